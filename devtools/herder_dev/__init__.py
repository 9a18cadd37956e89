"""herder's local test world: control plane, simulators and benchmarks."""
