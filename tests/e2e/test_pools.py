"""ResourcePools against vcsim: nested pools as declared, live updates, deletion rules, namespace admission.

Every result is read back with govc."""

from __future__ import annotations

import json
from typing import Any

from e2e_world import (
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


def test_orphan_policy_leaves_the_pool(stack: StackState, operator: OperatorProcess, govc: Govc,
                                       namespace: str) -> None:
    name = f"{namespace}-keep"
    apply(stack, pool_manifest(name, deletionPolicy="Orphan"))
    path = pool_ready(stack, name)["path"]
    stack.kubectl("delete", "rpool", name)
    assert get(stack, "rpool", name) is None
    assert pool_info(govc, path) is not None
    govc("pool.destroy", path)


def test_a_namespace_the_pool_does_not_allow_is_rejected(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                        namespace: str) -> None:
    name = f"{namespace}-gold"
    apply(stack, pool_manifest(name, allowedNamespaces={"matchLabels": {"herder.dev/tier": "gold"}}))
    pool_ready(stack, name)
    apply(stack, ecs_manifest("intruder", resourcePool=name), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "intruder", namespace, "Provisioned", "False",
                                           "ResourcePoolNotAllowed"), timeout=30,
                      what="Provisioned=False ResourcePoolNotAllowed")
    message = conditions(status)["Provisioned"]["message"]
    assert name in message and namespace in message
    assert conditions(status)["Ready"]["reason"] == "ResourcePoolNotAllowed"
    assert govc.vm(f"{namespace}.intruder") is None

    # Labelling the namespace admits it: the ECS is created in the pool.
    stack.kubectl("label", "namespace", namespace, "herder.dev/tier=gold")
    wait_ready(stack, namespace, "intruder", timeout=90)
    vm = govc.vm(f"{namespace}.intruder")
    assert vm is not None and vm["resourcePool"]["value"] == status_of(stack, "rpool", name)["managedObjectID"]
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
