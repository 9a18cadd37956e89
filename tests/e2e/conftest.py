"""End-to-end fixtures: the real operator process, connected to the stack's vcsim and SCVMM simulator, and the
backend a parametrized test runs against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import (
    CLUSTER_IMAGE,
    SCVMM_INVENTORY_SECONDS,
    VCENTER,
    VCENTER_WATCH_SECONDS,
    ZONES,
    Backend,
    Govc,
    apply,
    scvmm_manifests,
    vcenter_manifest,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


@pytest.fixture(scope="session")
def operator(stack: StackState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """herder run as a subprocess, with a VCenter, two zones and a public image in place, and (when the stack
    runs the SCVMM simulator) an SCVMM, its zone and image, read in bulk every SCVMM_INVENTORY_SECONDS."""
    zones = [{"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
              "spec": {"region": "region-1", "provider": {"kind": "VCenter", "name": VCENTER},
                       "vcenter": {"cluster": cluster, "datastore": "LocalDS_0", "network": "VM Network",
                                   "folder": "vm"}}}
             for zone, cluster in ZONES.items()]
    image = {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": CLUSTER_IMAGE},
             "spec": {"provider": {"kind": "VCenter", "name": VCENTER}, "osFamily": "Linux",
                      "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}
    apply(stack, vcenter_manifest(stack), *zones, image, *scvmm_manifests(stack))
    process = OperatorProcess(stack, Path(tmp_path_factory.mktemp("operator")) / "herder.log",
                              extra_env={"HERDER_SCVMM_INVENTORY_SECONDS": str(SCVMM_INVENTORY_SECONDS),
                                         "HERDER_VCENTER_WATCH_SECONDS": str(VCENTER_WATCH_SECONDS)})
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def govc(stack: StackState) -> Govc:
    return Govc(stack)


@pytest.fixture(params=["vcenter", "scvmm"])
def backend(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess, govc: Govc) -> Backend:
    """Each backend in turn, as its own tools show it: one test, the same user-visible results on both."""
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return Backend(request.param, stack, govc)
