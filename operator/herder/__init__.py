"""herder: a Kubernetes operator for images, elastic cloud servers and resource pools on vCenter and SCVMM."""

GROUP = "herder.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
