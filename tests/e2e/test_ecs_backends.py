"""One ECS behaviour suite, run against both backends: vCenter (vcsim, read back with govc) and SCVMM (the
stack's simulator, read back through its admin API). The user-visible results must be the same. (Creation in
detail is in test_ecs_lifecycle.py, with the rest of the lifecycle.)

Then SCVMM-only fault injection: VMM busy, a failed creation job, a WinRM receive timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_world import (
    GIB,
    Backend,
    Govc,
    ScvmmSim,
    apply,
    conditions,
    get,
    patch_spec,
    status_of,
    uid_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


@pytest.fixture
def sim(stack: StackState, operator: OperatorProcess) -> Iterator[ScvmmSim]:
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    sim = ScvmmSim(stack)
    sim.clear_faults()
    try:
        yield sim
    finally:
        sim.clear_faults()


def _servers(stack: StackState, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        stack.kubectl("get", "ecs", "-o", "json", namespace=namespace).stdout)["items"]
    return items


def _ready_at(stack: StackState, namespace: str, name: str, generation: int, **fields: Any) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        s = wait_ready(stack, namespace, name)
        ok = s.get("observedGeneration") == generation and all(s.get(k) == v for k, v in fields.items())
        return s if ok else None

    status: dict[str, Any] = wait_for(check, timeout=45, what=f"Ready at generation {generation} with {fields}")
    return status


# -- the same behaviour on both backends -----------------------------------------------------------------------

def test_resize_with_automatic_power_cycle(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("app", powerCyclePolicy="Automatic"), namespace=namespace)
    wait_ready(stack, namespace, "app", timeout=60)
    vm = backend.vm(namespace, "app")
    assert vm is not None and (vm["cpu"], vm["memory_mib"], vm["power"]) == (2, 2048, "On")
    patch_spec(stack, namespace, "app", {"cpu": 4, "memory": "4Gi"})

    def resized() -> dict[str, Any] | None:
        current = backend.vm(namespace, "app")
        return current if current and (current["cpu"], current["memory_mib"], current["power"]) == (
            4, 4096, "On") else None

    wait_for(resized, timeout=60, what=f"{backend}: 4 vCPUs, 4096 MiB, on again")
    status = _ready_at(stack, namespace, "app", 2, cpu=4, memory="4Gi", powerState="On")
    assert conditions(status)["ConfigSynced"]["status"] == "True"


def test_power_off_then_on(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("box"), namespace=namespace)
    wait_ready(stack, namespace, "box", timeout=60)
    for generation, (wanted, phase) in enumerate((("Off", "Stopped"), ("On", "Running")), start=2):
        patch_spec(stack, namespace, "box", {"powerState": wanted})
        wait_for(lambda: (backend.vm(namespace, "box") or {}).get("power") == wanted,  # noqa: B023
                 timeout=45, what=f"{backend}: power {wanted}")
        status = _ready_at(stack, namespace, "box", generation, powerState=wanted)
        assert status["phase"] == phase
        assert conditions(status)["PowerSynced"]["status"] == "True", json.dumps(status, indent=1)
    assert backend.count(namespace) == 1


def test_delete_removes_the_vm(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("gone", disks={"data": [{"name": "d", "size": "1Gi"}]}), namespace=namespace)
    wait_ready(stack, namespace, "gone", timeout=60)
    assert backend.names(namespace) == [f"{namespace}.gone"]
    stack.kubectl("delete", "ecs", "gone", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "gone", namespace) is None, timeout=60, what="ECS gone")
    assert backend.names(namespace) == []


def test_orphan_keeps_the_vm_unmarked(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("kept", deletionPolicy="Orphan"), namespace=namespace)
    wait_ready(stack, namespace, "kept", timeout=60)
    uid = uid_of(stack, namespace, "kept")
    before = backend.vm(namespace, "kept")
    assert before is not None and before["identity"] == uid
    stack.kubectl("delete", "ecs", "kept", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "kept", namespace) is None, timeout=60, what="ECS gone")
    vm = backend.vm(namespace, "kept")
    assert vm is not None, f"{backend}: an orphaned VM must stay"
    assert vm["id"] == before["id"] and vm["power"] == "On"
    assert vm["owner"] == "", f"{backend}: herder's mark is still on the orphan: {vm['owner']!r}"
    assert uid not in vm["description"], f"{backend}: the Description still names the ECS: {vm['description']!r}"
    backend.destroy_out_of_band(namespace, "kept")  # tidy up: nothing owns it any more


def test_out_of_band_power_off_is_corrected(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("drift"), namespace=namespace)
    wait_ready(stack, namespace, "drift", timeout=60)
    started = time.monotonic()
    backend.power_off_out_of_band(namespace, "drift")  # returns once the backend has the VM off
    wait_for(lambda: (backend.vm(namespace, "drift") or {}).get("power") == "On", timeout=backend.drift_bound,
             interval=0.25, what=f"{backend}: herder powers the VM back on within {backend.drift_bound:.0f}s")
    took = time.monotonic() - started
    assert took < backend.drift_bound
    status = wait_ready(stack, namespace, "drift")
    assert status["powerState"] == "On"
    assert backend.count(namespace) == 1


def test_kill9_while_creating_five(stack: StackState, backend: Backend, operator: OperatorProcess,
                                   namespace: str) -> None:
    names = [f"k{i}" for i in range(5)]
    try:
        apply(stack, *(backend.manifest(n, disks={"data": [{"name": "d", "size": "1Gi"}]}) for n in names),
              namespace=namespace)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and backend.count(namespace) == 0:
            time.sleep(0.05)
        in_flight = backend.count(namespace)
        operator.kill9()
        assert in_flight > 0, f"{backend}: no VM was being created when the operator was killed"
        backend.settle()
        operator.start()

        def all_ready() -> list[dict[str, Any]] | None:
            items = _servers(stack, namespace)
            ok = [s for s in items if conditions(s.get("status") or {}).get("Ready", {}).get("status") == "True"]
            return items if len(ok) == len(names) else None

        items = wait_for(all_ready, timeout=120, interval=1, what="all 5 ECSs Ready after the restart")
        assert backend.names(namespace) == sorted(f"{namespace}.{n}" for n in names), "missing or duplicate VMs"
        for item in items:
            vm = backend.vm(namespace, item["metadata"]["name"])
            assert vm is not None
            assert vm["identity"] == item["metadata"]["uid"]
            assert vm["id"] == item["status"]["uniqueID"]
            assert vm["power"] == "On"
            assert vm["disks"] == sorted([1 * GIB, backend.template_disk])
    finally:
        if operator.proc is None:
            operator.start()


# -- SCVMM faults ------------------------------------------------------------------------------------------------

def _scvmm(stack: StackState, govc: Govc) -> Backend:
    return Backend("scvmm", stack, govc)


def test_scvmm_busy_on_create(stack: StackState, sim: ScvmmSim, govc: Govc, namespace: str) -> None:
    backend = _scvmm(stack, govc)
    sim.fault({"cmdlet": "New-SCVirtualMachine", "error_id": 1600, "times": 2})
    apply(stack, backend.manifest("busy"), namespace=namespace)
    wait_ready(stack, namespace, "busy", timeout=60)
    assert sim.faults()["cmdlet_errors"] == [], "the injected 1600s were never hit"
    assert backend.names(namespace) == [f"{namespace}.busy"]
    vm = backend.vm(namespace, "busy")
    assert vm is not None and vm["power"] == "On" and vm["identity"] == uid_of(stack, namespace, "busy")


def test_scvmm_failed_create_job(stack: StackState, sim: ScvmmSim, govc: Govc, namespace: str) -> None:
    backend = _scvmm(stack, govc)
    sim.fault({"job_fail": "New-SCVirtualMachine", "times": 1})
    apply(stack, backend.manifest("flaky"), namespace=namespace)
    seen: list[tuple[str, str]] = []
    statuses: set[str] = set()

    def ready() -> bool:
        conds = conditions(status_of(stack, "ecs", "flaky", namespace))
        provisioned = conds.get("Provisioned")
        if provisioned and (provisioned["status"], provisioned["reason"]) not in seen:
            seen.append((provisioned["status"], provisioned["reason"]))
        statuses.update(str(v["status"]) for v in sim.vms(f"{namespace}."))
        return conds.get("Ready", {}).get("status") == "True"

    wait_for(ready, timeout=90, interval=0.2, what="Ready after the failed creation job")
    assert sim.faults()["job_failures"] == [], "the injected job failure was never hit"
    jobs = [j for j in sim.state()["jobs"] if j["target_name"] == f"{namespace}.flaky"]
    assert [j["status"] for j in jobs if j["cmdlet"].lower() == "new-scvirtualmachine"][:1] == ["Failed"]
    assert ("False", "CreateFailed") in seen or "CreationFailed" in statuses, (seen, statuses)
    vms = sim.vms(f"{namespace}.")
    assert [(v["name"], v["status"]) for v in vms] == [(f"{namespace}.flaky", "Running")], vms
    vm = backend.vm(namespace, "flaky")
    assert vm is not None and vm["identity"] == uid_of(stack, namespace, "flaky")


def test_scvmm_receive_timeout(stack: StackState, sim: ScvmmSim, govc: Govc, namespace: str) -> None:
    backend = _scvmm(stack, govc)
    sim.fault({"receive_timeouts": 3})
    apply(stack, backend.manifest("slow"), namespace=namespace)
    wait_ready(stack, namespace, "slow", timeout=90)
    assert sim.faults()["receive_timeouts"] == 0, "the injected receive timeouts were never hit"
    assert backend.names(namespace) == [f"{namespace}.slow"]
    vm = backend.vm(namespace, "slow")
    assert vm is not None and vm["power"] == "On" and vm["identity"] == uid_of(stack, namespace, "slow")
