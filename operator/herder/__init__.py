"""herder: a Kubernetes operator for images, elastic cloud servers and resource pools on vCenter and SCVMM."""

import os

GROUP = "herder.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# Where credential Secrets live when a reference names no namespace.
OPERATOR_NAMESPACE = os.environ.get("HERDER_NAMESPACE", "herder-system")
