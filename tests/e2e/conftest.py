"""End-to-end fixtures: the real operator process under the chart's RBAC, connected to the stack's vcsim and
SCVMM simulator, and the backend a parametrized test runs against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import (
    CLOCK_FILE,
    CLUSTER_IMAGE,
    SCVMM_INVENTORY_SECONDS,
    VCENTER,
    VCENTER_WATCH_SECONDS,
    ZONES,
    Backend,
    Govc,
    HerderClock,
    apply,
    scvmm_manifests,
    serve_directory,
    vcenter_manifest,
    vcenter_zone_spec,
)

from herder.clock import OFFSET_FILE_ENV
from herder_dev.operator_identity import ServiceAccountLogin
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


@pytest.fixture(scope="session")
def operator(stack: StackState, operator_login: ServiceAccountLogin,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """herder run as a subprocess, as the chart's ServiceAccount (a token kubeconfig: nothing of the admin's),
    with a VCenter, two zones and a public image in place, and (when the stack runs the SCVMM simulator) an
    SCVMM, its zone and image, read in bulk every SCVMM_INVENTORY_SECONDS."""
    zones = [{"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
              "spec": vcenter_zone_spec(cluster)} for zone, cluster in ZONES.items()]
    image = {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": CLUSTER_IMAGE},
             "spec": {"provider": {"kind": "VCenter", "name": VCENTER}, "osFamily": "Linux",
                      "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}
    apply(stack, vcenter_manifest(stack), *zones, image, *scvmm_manifests(stack))
    directory = Path(tmp_path_factory.mktemp("operator"))
    process = OperatorProcess(stack, directory / "herder.log",
                              extra_env={"HERDER_SCVMM_INVENTORY_SECONDS": str(SCVMM_INVENTORY_SECONDS),
                                         "HERDER_VCENTER_WATCH_SECONDS": str(VCENTER_WATCH_SECONDS),
                                         OFFSET_FILE_ENV: str(directory / CLOCK_FILE)},
                              kubeconfig=operator_login.kubeconfig(directory / "kubeconfig"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def herder_clock(operator: OperatorProcess) -> Iterator[HerderClock]:
    """Moves the clock herder's schedules read (herder.clock); put back after the test."""
    clock = HerderClock(Path(operator.extra_env[OFFSET_FILE_ENV]))
    try:
        yield clock
    finally:
        clock.set(0.0)


@pytest.fixture(scope="session")
def govc(stack: StackState) -> Govc:
    return Govc(stack)


@pytest.fixture(params=["vcenter", "scvmm"])
def backend(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess, govc: Govc) -> Backend:
    """Each backend in turn, as its own tools show it: one test, the same user-visible results on both."""
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return Backend(request.param, stack, govc)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving a directory: (base URL, directory)."""
    with serve_directory(tmp_path_factory.mktemp("http")) as served:
        yield served
