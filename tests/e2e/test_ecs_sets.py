"""ElasticCloudServerSet rollouts on both backends: an in-place change reaches every server (same ECSs, same
VMs, still running), and an image change replaces the servers. Read back with govc, or the SCVMM simulator."""

from __future__ import annotations

import json
from typing import Any

from e2e_world import Backend, apply, wait_for

from herder_dev.stack import StackState


def children(stack: StackState, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(stack.kubectl("get", "ecs", "-l", "app=roll", "-o", "json",
                                                           namespace=namespace).stdout)["items"]
    return sorted(items, key=lambda item: item["metadata"]["name"])


def settled(stack: StackState, namespace: str, replicas: int) -> dict[str, Any] | None:
    body = json.loads(stack.kubectl("get", "ecsset", "roll", "-o", "json", namespace=namespace).stdout)
    status: dict[str, Any] = body.get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
    counts = (status.get("replicas"), status.get("readyReplicas"), status.get("updatedReplicas"))
    return status if ready and counts == (replicas, replicas, replicas) else None


def test_a_set_rolls_template_changes_out(stack: StackState, backend: Backend, namespace: str) -> None:
    template = backend.manifest("unused", cpu=1, memory="512Mi")["spec"]
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "roll"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "roll"}},
                           "template": {"metadata": {"labels": {"app": "roll"}}, "spec": template}}},
          namespace=namespace)
    wait_for(lambda: settled(stack, namespace, 2), timeout=150, what="2 ready servers")
    before = {c["metadata"]["name"]: c["metadata"]["uid"] for c in children(stack, namespace)}
    vm_ids = {name: (backend.vm(namespace, name) or {}).get("id") for name in before}

    # In place: a data disk for every server; the same ECSs and VMs, running throughout.
    disks = {"data": [{"name": "logs", "size": "1Gi"}]}
    stack.kubectl("patch", "ecsset", "roll", "--type=merge", "-p",
                  json.dumps({"spec": {"template": {"spec": {"disks": disks}}}}), namespace=namespace)

    def disks_added() -> bool:
        vms = [backend.vm(namespace, name) for name in before]
        return all(vm is not None and len(vm["disks"]) == 2 for vm in vms)

    wait_for(disks_added, timeout=150, what=f"{backend}: a second disk on every server")
    wait_for(lambda: settled(stack, namespace, 2), timeout=90, what="the set settled on the new template")
    assert {c["metadata"]["name"]: c["metadata"]["uid"] for c in children(stack, namespace)} == before
    for name in before:
        vm = backend.vm(namespace, name)
        assert vm is not None and (vm["id"], vm["power"]) == (vm_ids[name], "On")

    # A new image: the servers are replaced (maxUnavailable 1: the next once the new one is Ready).
    apply(stack, backend.image_manifest(f"{namespace}-v2"))
    try:
        stack.kubectl("patch", "ecsset", "roll", "--type=merge", "-p", json.dumps(
            {"spec": {"template": {"spec": {"image": {"kind": "ClusterImage", "name": f"{namespace}-v2"}}}}}),
            namespace=namespace)

        def replaced() -> bool:
            now = children(stack, namespace)
            return len(now) == 2 and not set(before.values()) & {c["metadata"]["uid"] for c in now} and all(
                c["spec"]["image"]["name"] == f"{namespace}-v2" for c in now)

        wait_for(replaced, timeout=240, what="both servers replaced by ones on the new image")
        wait_for(lambda: settled(stack, namespace, 2), timeout=150, what="the set settled on the new image")

        def old_vms_gone() -> bool:  # names may be reused; a VM's identity is its ECS's UID
            vms = [backend.vm_named(full) for full in backend.names(namespace)]
            identities = {vm["identity"] for vm in vms if vm}
            return len(vms) == 2 and identities == {c["metadata"]["uid"] for c in children(stack, namespace)}

        wait_for(old_vms_gone, timeout=90, what=f"{backend}: only the two new VMs")
        for item in children(stack, namespace):
            assert (backend.vm(namespace, item["metadata"]["name"]) or {}).get("power") == "On"
    finally:
        stack.kubectl("delete", "ecsset", "roll", namespace=namespace)
        stack.kubectl("delete", "clusterimage", f"{namespace}-v2", "--ignore-not-found")
