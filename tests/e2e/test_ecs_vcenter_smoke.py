"""The first slice end to end: an ECS becomes a VM that govc sees as declared, and status tells the truth."""

from __future__ import annotations

import json

from e2e_world import CLUSTER_IMAGE, Govc, apply, wait_for

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

GIB = 1024**3


def ecs(name: str, **spec: object) -> dict[str, object]:
    body = {"image": {"kind": "ClusterImage", "name": CLUSTER_IMAGE}, "availabilityZone": "dc0-c0",
            "cpu": 2, "memory": "2Gi"} | spec
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer", "metadata": {"name": name},
            "spec": body}


def status(stack: StackState, namespace: str, name: str) -> dict[str, object]:
    out = stack.kubectl("get", "ecs", name, "-o", "json", namespace=namespace).stdout
    return json.loads(out).get("status") or {}


def ready(stack: StackState, namespace: str, name: str) -> dict[str, object] | None:
    current = status(stack, namespace, name)
    conditions = {c["type"]: c for c in current.get("conditions") or []}  # type: ignore[union-attr]
    return current if conditions.get("Ready", {}).get("status") == "True" else None


def test_ecs_becomes_the_declared_vm(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    apply(stack, ecs("web", disks={"os": {"size": "20Gi"}, "data": [{"name": "data", "size": "5Gi"}]}),
          namespace=namespace)
    current = wait_for(lambda: ready(stack, namespace, "web"), what="ECS web Ready")
    vm = govc.vm(f"{namespace}.web")
    assert vm is not None
    assert vm["config"]["hardware"]["numCPU"] == 2
    assert vm["config"]["hardware"]["memoryMB"] == 2048
    assert vm["runtime"]["powerState"] == "poweredOn"
    assert govc.disks(vm) == [5 * GIB, 20 * GIB]
    uid = stack.kubectl("get", "ecs", "web", "-o", "jsonpath={.metadata.uid}", namespace=namespace).stdout
    assert vm["config"]["instanceUuid"] == uid == current["uniqueID"]
    assert current["managedObjectID"] == vm["self"]["value"]
    assert current["powerState"] == "On" and current["zone"] == "dc0-c0"
    # Where the VM runs, by name, as govc says it.
    info = govc("vm.info", f"{namespace}.web").stdout
    host = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("Host:"))
    assert current["host"] == host and host.startswith("DC0_C0_H")
    assert current["datastore"] == "LocalDS_0"
