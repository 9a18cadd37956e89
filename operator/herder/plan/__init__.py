"""`herder plan`: what applying manifests would make herder do, decided by the operator's own code (docs/plan.md)."""
