"""herder.providers.scvmm."""
