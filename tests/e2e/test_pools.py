"""ResourcePools: vCenter resource pools (read back with govc) and VMM clouds (read back with plain pywinrm:
Get-SCCloud, Get-SCCloudCapacity): nested pools with live limit changes, deletion rules, namespace admission,
admission control, and a running server moved between pools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_world import (
    Backend,
    Govc,
    apply,
    condition_is,
    conditions,
    ecs_manifest,
    get,
    power_of,
    status_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

ZONE_ROOT = "/DC0/host/DC0_C0/Resources"


def pool_manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool", "metadata": {"name": name},
            "spec": {"zone": "dc0-c0"} | spec}


def pool_ready(stack: StackState, name: str) -> dict[str, Any]:
    try:
        status: dict[str, Any] = wait_for(lambda: condition_is(stack, "rpool", name, None, "Ready", "True"),
                                          timeout=60, what=f"ResourcePool {name} Ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {status_of(stack, 'rpool', name)}") from None
    return status


def pool_info(govc: Govc, path: str) -> dict[str, Any] | None:
    result = govc("pool.info", "-json", path, check=False)
    pools = json.loads(result.stdout or "{}").get("resourcePools") or [] if result.returncode == 0 else []
    return pools[0] if pools else None


def backend_pool(backend: Backend, name: str, **spec: Any) -> dict[str, Any]:
    return pool_manifest(name, **({"zone": backend.zone} | spec))


def memory_limit_mib(backend: Backend, govc: Govc, name: str, path: str) -> int | None:
    """The pool's memory limit as the backend's own client shows it: govc pool.info, or Get-SCCloudCapacity."""
    if backend.sim is not None:
        cloud = backend.sim.cloud(name)
        return None if cloud is None or cloud["UseMemoryMBMaximum"] else int(cloud["MemoryMB"])
    info = pool_info(govc, path)
    return None if info is None else int(info["config"]["memoryAllocation"]["limit"])


def exists(backend: Backend, govc: Govc, name: str, path: str) -> bool:
    return (backend.sim.cloud(name) if backend.sim is not None else pool_info(govc, path)) is not None


def test_nested_pools_hold_servers_update_live_and_block_deletion_while_in_use(
        stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    parent, child = f"{namespace}-org", f"{namespace}-team"
    apply(stack,
          pool_manifest(parent, cpu={"reservation": 1000, "limit": 8000, "shares": {"level": "High"}},
                        memory={"reservation": "1Gi", "limit": "16Gi", "expandableReservation": False,
                                "shares": {"level": "Custom", "value": 4000}}),
          pool_manifest(child, parent=parent, cpu={"reservation": 500, "limit": 4000},
                        memory={"reservation": "512Mi", "shares": {"level": "Low"}}))
    parent_status = pool_ready(stack, parent)
    child_status = pool_ready(stack, child)
    assert parent_status["path"] == f"{ZONE_ROOT}/{parent}"
    assert child_status["path"] == f"{ZONE_ROOT}/{parent}/{child}"

    info = pool_info(govc, parent_status["path"])
    assert info is not None, "govc does not see the pool"
    cpu, memory = info["config"]["cpuAllocation"], info["config"]["memoryAllocation"]
    assert (cpu["reservation"], cpu["limit"], cpu["shares"]["level"], cpu["expandableReservation"]) == \
        (1000, 8000, "high", True)
    assert (memory["reservation"], memory["limit"], memory["expandableReservation"]) == (1024, 16384, False)
    assert memory["shares"] == {"level": "custom", "shares": 4000}
    assert info["self"]["value"] == parent_status["managedObjectID"]
    child_info = pool_info(govc, child_status["path"])
    assert child_info is not None
    assert child_info["parent"]["value"] == parent_status["managedObjectID"]
    assert child_info["config"]["memoryAllocation"]["limit"] == -1  # unset: unlimited
    assert child_info["config"]["memoryAllocation"]["shares"]["level"] == "low"

    # An ECS in the child pool is a member of that pool in vCenter.
    apply(stack, ecs_manifest("member", resourcePool=child), namespace=namespace)
    status = wait_ready(stack, namespace, "member")
    assert status["resourcePool"] == child
    vm = govc.vm(f"{namespace}.member")
    assert vm is not None and vm["resourcePool"]["value"] == child_status["managedObjectID"]
    wait_for(lambda: (status_of(stack, "rpool", child).get("usage") or {}).get("servers") == 1, timeout=60,
             what="the child pool's status counts its server")  # usage is re-read periodically

    # Live update: the new limit shows in govc; the VM keeps running.
    stack.kubectl("patch", "rpool", child, "--type=merge", "-p",
                  json.dumps({"spec": {"cpu": {"reservation": 500, "limit": 6000}}}))

    def updated() -> bool:
        found = pool_info(govc, child_status["path"])
        return found is not None and found["config"]["cpuAllocation"]["limit"] == 6000

    wait_for(updated, timeout=30, what="govc: the child pool's CPU limit is 6000")
    assert power_of(govc.vm(f"{namespace}.member")) == "poweredOn"
    assert wait_ready(stack, namespace, "member")["powerState"] == "On"

    # The parent is not deleted while a child ResourcePool names it.
    stack.kubectl("delete", "rpool", parent, "--wait=false")
    held = wait_for(lambda: condition_is(stack, "rpool", parent, None, "InUse", "True"), timeout=30,
                    what="the parent pool reports InUse")
    assert f"ResourcePool {child}" in conditions(held)["InUse"]["message"]
    assert pool_info(govc, parent_status["path"]) is not None

    # Deleting a pool that holds a VM is blocked (InUse) and leaves it in vCenter.
    stack.kubectl("delete", "rpool", child, "--wait=false")
    blocked = wait_for(lambda: condition_is(stack, "rpool", child, None, "InUse", "True"), timeout=30,
                       what="the child pool reports InUse")
    assert conditions(blocked)["Ready"]["reason"] == "InUse"
    assert f"ElasticCloudServer {namespace}/member" in conditions(blocked)["InUse"]["message"]
    assert pool_info(govc, child_status["path"]) is not None
    assert get(stack, "rpool", child) is not None

    # Once the VM is gone the deletion goes through (backoff retries), and so does the parent's.
    stack.kubectl("delete", "ecs", "member", namespace=namespace)
    wait_for(lambda: get(stack, "rpool", child) is None, timeout=90, what="the child pool deleted")
    assert pool_info(govc, child_status["path"]) is None
    wait_for(lambda: get(stack, "rpool", parent) is None, timeout=120, what="the parent pool deleted")
    assert pool_info(govc, parent_status["path"]) is None


def test_orphan_policy_leaves_the_pool(stack: StackState, backend: Backend, govc: Govc, namespace: str) -> None:
    name = f"{namespace}-keep"
    apply(stack, backend_pool(backend, name, deletionPolicy="Orphan"))
    path = pool_ready(stack, name)["path"]
    stack.kubectl("delete", "rpool", name)
    assert get(stack, "rpool", name) is None
    assert exists(backend, govc, name, path)
    if backend.sim is not None:  # tidy up: nothing owns it any more
        backend.sim.run_ps(f"$null = Remove-SCCloud -Cloud (Get-SCCloud -Name '{name}')")
    else:
        govc("pool.destroy", path)


def test_a_namespace_the_pool_does_not_allow_is_rejected(stack: StackState, backend: Backend, namespace: str) -> None:
    name = f"{namespace}-gold"
    apply(stack, backend_pool(backend, name, allowedNamespaces={"matchLabels": {"herder.dev/tier": "gold"}}))
    pool_ready(stack, name)
    apply(stack, backend.manifest("intruder", resourcePool=name), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "intruder", namespace, "Provisioned", "False",
                                           "ResourcePoolNotAllowed"), timeout=30,
                      what="Provisioned=False ResourcePoolNotAllowed")
    message = conditions(status)["Provisioned"]["message"]
    assert name in message and namespace in message
    assert conditions(status)["Ready"]["reason"] == "ResourcePoolNotAllowed"
    assert backend.vm(namespace, "intruder") is None

    # Labelling the namespace admits it: the ECS is created in the pool.
    stack.kubectl("label", "namespace", namespace, "herder.dev/tier=gold")
    assert wait_ready(stack, namespace, "intruder", timeout=90)["resourcePool"] == name
    assert (backend.vm(namespace, "intruder") or {}).get("pool") == name
    stack.kubectl("delete", "ecs", "intruder", namespace=namespace)
    stack.kubectl("delete", "rpool", name)


def test_a_power_on_refused_by_admission_control_is_reported_and_retried(stack: StackState,
                                                                        operator: OperatorProcess, govc: Govc,
                                                                        namespace: str) -> None:
    # A pool that reserves 32 MiB and may not borrow: room for one running VM's memory overhead (vcsim, like
    # vCenter, reserves it at power-on).
    name = f"{namespace}-tight"
    apply(stack, pool_manifest(name, memory={"reservation": "32Mi", "expandableReservation": False}))
    pool_ready(stack, name)
    apply(stack, ecs_manifest("first", resourcePool=name),
          ecs_manifest("starved", resourcePool=name, powerState="Off"), namespace=namespace)
    wait_ready(stack, namespace, "first", timeout=90)
    wait_ready(stack, namespace, "starved", timeout=90)

    stack.kubectl("patch", "ecs", "starved", "--type=merge", "-p", '{"spec": {"powerState": "On"}}',
                  namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "starved", namespace, "PowerSynced", "False",
                                           "PowerFailed"), timeout=30, what="PowerSynced=False PowerFailed")
    message = conditions(status)["PowerSynced"]["message"]
    assert "InsufficientMemoryResourcesFault" in message, message  # vCenter's refusal, passed on
    assert power_of(govc.vm(f"{namespace}.starved")) == "poweredOff"

    # The other server goes away (no event reaches "starved"): its power-on is retried on its own backoff.
    stack.kubectl("delete", "ecs", "first", namespace=namespace)
    wait_for(lambda: power_of(govc.vm(f"{namespace}.starved")) == "poweredOn", timeout=150,
             what="govc: the VM powered on once the pool can admit it")
    assert wait_ready(stack, namespace, "starved")["powerState"] == "On"
    stack.kubectl("delete", "ecs", "starved", namespace=namespace)
    stack.kubectl("delete", "rpool", name)


def test_nested_pools_with_live_limit_changes(stack: StackState, backend: Backend, govc: Govc,
                                              namespace: str) -> None:
    parent, child = f"{namespace}-org", f"{namespace}-team"
    apply(stack, backend_pool(backend, parent, memory={"limit": "16Gi"}),
          backend_pool(backend, child, parent=parent, memory={"limit": "8Gi"}))
    parent_status, child_status = pool_ready(stack, parent), pool_ready(stack, child)
    assert memory_limit_mib(backend, govc, parent, parent_status["path"]) == 16384
    assert memory_limit_mib(backend, govc, child, child_status["path"]) == 8192
    assert child_status["capacity"]["memory"] == "8Gi"
    if backend.sim is not None:
        cloud = backend.sim.cloud(child)
        assert cloud is not None and cloud["HostGroup"] == ["Zone-A"]  # scoped to the zone's host group
        assert child_status["path"] == child
    else:
        assert child_status["path"] == f"{parent_status['path']}/{child}"

    # A server in the child pool runs in its pool (cloud).
    apply(stack, backend.manifest("member", resourcePool=child), namespace=namespace)
    status = wait_ready(stack, namespace, "member", timeout=90)
    assert status["resourcePool"] == child
    assert (backend.vm(namespace, "member") or {}).get("pool") == child
    wait_for(lambda: (status_of(stack, "rpool", child).get("usage") or {}).get("servers") == 1, timeout=60,
             what="the child pool's status counts its server")

    # Live: the new limit shows in the backend's own client; the server keeps running.
    stack.kubectl("patch", "rpool", child, "--type=merge", "-p", json.dumps({"spec": {"memory": {"limit": "12Gi"}}}))
    wait_for(lambda: memory_limit_mib(backend, govc, child, child_status["path"]) == 12288, timeout=45,
             what=f"{backend}: the child's memory limit is 12Gi")
    assert (backend.vm(namespace, "member") or {}).get("power") == "On"
    assert wait_ready(stack, namespace, "member")["powerState"] == "On"

    # Not deleted while a child or a server names them; then both go, from the backend too.
    stack.kubectl("delete", "rpool", parent, child, "--wait=false")
    wait_for(lambda: condition_is(stack, "rpool", parent, None, "InUse", "True"), timeout=30, what="parent InUse")
    held = wait_for(lambda: condition_is(stack, "rpool", child, None, "InUse", "True"), timeout=30, what="child InUse")
    assert f"ElasticCloudServer {namespace}/member" in conditions(held)["InUse"]["message"]
    assert exists(backend, govc, child, child_status["path"])
    stack.kubectl("delete", "ecs", "member", namespace=namespace)
    wait_for(lambda: get(stack, "rpool", child) is None and get(stack, "rpool", parent) is None, timeout=180,
             what="both pools deleted")
    assert not exists(backend, govc, child, child_status["path"])
    assert not exists(backend, govc, parent, parent_status["path"])


def test_changing_the_pool_of_a_running_server_moves_it(stack: StackState, backend: Backend, govc: Govc,
                                                        namespace: str) -> None:
    first, second = f"{namespace}-a", f"{namespace}-b"
    apply(stack, backend_pool(backend, first), backend_pool(backend, second))
    pool_ready(stack, first)
    pool_ready(stack, second)
    apply(stack, backend.manifest("mover", resourcePool=first), namespace=namespace)
    assert wait_ready(stack, namespace, "mover", timeout=90)["resourcePool"] == first
    before = backend.vm(namespace, "mover")
    assert before is not None and before["pool"] == first

    stack.kubectl("patch", "ecs", "mover", "--type=merge", "-p", json.dumps({"spec": {"resourcePool": second}}),
                  namespace=namespace)
    wait_for(lambda: (backend.vm(namespace, "mover") or {}).get("pool") == second, timeout=60,
             what=f"{backend}: the VM in {second}")
    status = wait_for(lambda: (s := wait_ready(stack, namespace, "mover")).get("resourcePool") == second and s,
                      timeout=45, what=f"status.resourcePool {second}")
    assert conditions(status)["PlacementSynced"]["reason"] == "Placed"
    after = backend.vm(namespace, "mover")
    assert after is not None and (after["id"], after["power"]) == (before["id"], "On")  # the same VM, live

    # Out of any pool: vCenter moves it back to the cluster's root pool; VMM takes no VM out of its cloud into a
    # zone without one, and says so.
    stack.kubectl("patch", "ecs", "mover", "--type=json", "-p", '[{"op": "remove", "path": "/spec/resourcePool"}]',
                  namespace=namespace)
    if backend.sim is not None:
        refused = wait_for(lambda: condition_is(stack, "ecs", "mover", namespace, "ConfigSynced", "False",
                                                "NotSupported"), timeout=30, what="NotSupported")
        assert "out of its cloud" in conditions(refused)["ConfigSynced"]["message"]
        assert refused["resourcePool"] == second  # status says where it is
        assert (backend.vm(namespace, "mover") or {}).get("pool") == second
    else:
        wait_for(lambda: (backend.vm(namespace, "mover") or {}).get("pool") == "Resources", timeout=60,
                 what="govc: the VM in the cluster's root pool")
        status = wait_for(lambda: "resourcePool" not in (s := wait_ready(stack, namespace, "mover")) and s,
                          timeout=45, what="status.resourcePool unset")
    stack.kubectl("delete", "ecs", "mover", namespace=namespace)
    stack.kubectl("delete", "rpool", first, second)


# -- SCVMM: what a cloud does that a vCenter pool does not ------------------------------------------------------

def test_scvmm_a_child_cloud_beyond_its_parent_is_held_within_it(stack: StackState, backend: Backend,
                                                                 namespace: str) -> None:
    if backend.sim is None:
        pytest.skip("vCenter nests resource pools itself")
    parent, child, odd = f"{namespace}-org", f"{namespace}-team", f"{namespace}-odd"
    apply(stack, backend_pool(backend, parent, serverLimit=4, memory={"limit": "8Gi"}),
          backend_pool(backend, child, parent=parent, memory={"limit": "16Gi"}, cpu={"vcpuLimit": 6}),
          backend_pool(backend, odd, memory={"reservation": "1Gi"}))
    pool_ready(stack, parent)
    held = wait_for(lambda: condition_is(stack, "rpool", child, None, "Ready", "False", "LimitExceedsParent"),
                    timeout=60, what="LimitExceedsParent")
    assert f"spec.memory.limit 16Gi exceeds parent ResourcePool {parent}'s 8Gi" in conditions(held)["Ready"]["message"]
    cloud = backend.sim.cloud(child)
    assert cloud is not None
    assert (cloud["MemoryMB"], cloud["UseMemoryMBMaximum"], cloud["VMCount"], cloud["CPUCount"]) == (8192, False, 4, 6)
    refused = wait_for(lambda: condition_is(stack, "rpool", odd, None, "Ready", "False", "NotSupported"),
                       timeout=30, what="NotSupported")
    assert "spec.memory.reservation" in conditions(refused)["Ready"]["message"]
    assert backend.sim.cloud(odd) is None  # nothing made

    # The parent grows: the child gets what it asked for, live.
    stack.kubectl("patch", "rpool", parent, "--type=merge", "-p", '{"spec": {"memory": {"limit": "32Gi"}}}')
    pool_ready(stack, child)
    wait_for(lambda: (backend.sim.cloud(child) or {}).get("MemoryMB") == 16384, timeout=45,  # type: ignore[union-attr]
             what="Get-SCCloudCapacity: the child's 16Gi")
    stack.kubectl("delete", "rpool", child, odd, parent)


def test_scvmm_a_create_the_cloud_cannot_admit_is_reported_and_retried(stack: StackState, backend: Backend,
                                                                       namespace: str) -> None:
    if backend.sim is None:
        pytest.skip("vCenter's admission control is at power-on: test_a_power_on_refused_by_admission_control")
    name = f"{namespace}-one"
    apply(stack, backend_pool(backend, name, serverLimit=1))
    pool_ready(stack, name)
    apply(stack, backend.manifest("first", resourcePool=name), namespace=namespace)
    wait_ready(stack, namespace, "first", timeout=90)
    wait_for(lambda: (status_of(stack, "rpool", name).get("usage") or {}).get("servers") == 1, timeout=60,
             what="the pool's status counts the first server")
    apply(stack, backend.manifest("second", resourcePool=name), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "second", namespace, "Provisioned", "False",
                                           "CreateFailed"), timeout=30, what="CreateFailed")
    message = conditions(status)["Provisioned"]["message"]
    # herder refuses by the pool's status; VMM has the last word if the operator has not seen that status yet
    # (its refusal: tests/providers/scvmm/test_scvmm_pools.py).
    assert (f"ResourcePool {name}'s cloud {name} has no room: servers 1 used of 1" in message
            or (f"virtual machine capacity of cloud {name}" in message and "Error ID: 13252" in message)), message
    assert backend.vm(namespace, "second") is None

    # The first server goes (no event reaches "second"): its create is retried on its own backoff.
    stack.kubectl("delete", "ecs", "first", namespace=namespace)
    status = wait_ready(stack, namespace, "second", timeout=150)
    assert status["resourcePool"] == name and (backend.vm(namespace, "second") or {}).get("pool") == name
    stack.kubectl("delete", "ecs", "second", namespace=namespace)
    stack.kubectl("delete", "rpool", name)
