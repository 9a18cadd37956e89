"""Test doubles shared by the unit tests: the in-memory provider, a stand-in for herder.kube, the harness."""
