"""herder.providers."""
