"""The operator image, run as the chart's Deployment runs it (podman, runc, read-only root, uid 65532, the
ServiceAccount token mounted where a pod has it), against the local stack: it reaches vcsim and the SCVMM
simulator through their CA, reconciles servers on both to Ready, serves /healthz and /metrics on the ports
the chart probes and scrapes, and exits cleanly on SIGTERM within the chart's grace period."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import SCVMM_INVENTORY_SECONDS, Backend, Govc, apply, get, wait_for, wait_ready
from prometheus_client.parser import text_string_to_metric_families

from herder_dev.operator_container import GRACE_SECONDS, OperatorContainer
from herder_dev.operator_identity import ServiceAccountLogin
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

pytestmark = pytest.mark.stack


@pytest.fixture
def container(herder_image: str, operator: OperatorProcess, operator_login: ServiceAccountLogin,
              tmp_path: Path) -> Iterator[OperatorContainer]:
    """The image in place of the session's operator (two would act on the same objects), which is back after."""
    operator.stop()
    running = OperatorContainer(herder_image, operator_login, tmp_path, name=f"herder-e2e-{uuid.uuid4().hex[:8]}",
                                extra_env={"HERDER_SCVMM_INVENTORY_SECONDS": str(SCVMM_INVENTORY_SECONDS)})
    try:
        running.start()
        yield running
    finally:
        print(f"--- container log (last lines) ---\n{running.log()[-3000:]}")
        running.remove()
        operator.start()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def test_the_image_reconciles_on_both_backends_and_stops_on_sigterm(
        stack: StackState, container: OperatorContainer, govc: Govc, namespace: str) -> None:
    backends = [Backend("vcenter", stack, govc), *([Backend("scvmm", stack, govc)] if stack.scvmm_url else [])]
    apply(stack, *(b.manifest(f"from-image-{b.kind}", cpu=1, memory="1Gi") for b in backends), namespace=namespace)
    for backend in backends:
        wait_ready(stack, namespace, f"from-image-{backend.kind}", timeout=120)
        vm = backend.vm(namespace, f"from-image-{backend.kind}")
        assert vm is not None and vm["power"] == "On", (backend, vm)

    assert fetch(container.health_url)
    families = {f.name for f in text_string_to_metric_families(fetch(container.metrics_url))}
    assert {"herder_reconcile", "herder_backend_requests", "herder_backend_up"} <= families, families

    # Deletion needs the operator's finalizer work: the container does it, and the VMs go.
    stack.kubectl("delete", "ecs", "--all", "--wait=false", namespace=namespace)
    for backend in backends:
        name = f"from-image-{backend.kind}"
        wait_for(lambda name=name: get(stack, "ecs", name, namespace) is None, timeout=90, what=f"{name} deleted")
        assert backend.vm(namespace, name) is None

    seconds = container.stop()
    print(f"SIGTERM to exit: {seconds:.1f}s")
    state = container.state()
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert seconds < GRACE_SECONDS, f"SIGTERM took {seconds:.1f}s"
    records = [json.loads(line) for line in container.log().splitlines() if line.startswith("{")]
    assert records, "no JSON log lines (the image runs --log-format json)"
    assert not [r for r in records if "Forbidden" in json.dumps(r)], "the operator was refused something"
