"""herder.reconcile."""
