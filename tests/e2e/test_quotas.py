"""ServerQuotas on both backends: creates, resizes and set scale-ups past a limit are refused with the numbers and
change nothing on the backend; a burst of 20 concurrent applies never exceeds the limit; status.used is what
govc / the SCVMM simulator count; lowering a quota below use blocks growth and deletes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_world import (
    Backend,
    Govc,
    apply,
    condition_is,
    conditions,
    patch_spec,
    status_of,
    stays,
    wait_for,
    wait_ready,
)

from herder.api import quantity_to_bytes, quantity_to_mib
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


@pytest.fixture(params=["vcenter", "scvmm"])
def backend(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess, govc: Govc) -> Backend:
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return Backend(request.param, stack, govc)


def _quota(stack: StackState, namespace: str, **hard: Any) -> None:
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ServerQuota", "metadata": {"name": "compute"},
                  "spec": {"hard": hard}}, namespace=namespace)


def _used(stack: StackState, namespace: str) -> dict[str, Any]:
    used: dict[str, Any] = status_of(stack, "squota", "compute", namespace).get("used") or {}
    return used


def _counted(backend: Backend, namespace: str) -> dict[str, int]:
    """What the backend's own tools show of the namespace's VMs: servers, vCPUs, MiB, disk bytes."""
    vms = [backend.vm_named(name) for name in backend.names(namespace)]
    present = [vm for vm in vms if vm is not None]
    return {"servers": len(present), "cpu": sum(vm["cpu"] for vm in present),
            "memory_mib": sum(vm["memory_mib"] for vm in present),
            "disk": sum(sum(vm["disks"]) for vm in present)}


def _matches_backend(stack: StackState, backend: Backend, namespace: str) -> bool:
    used, counted = _used(stack, namespace), _counted(backend, namespace)
    return (used.get("servers"), used.get("cpu"), quantity_to_mib(used.get("memory") or 0),
            quantity_to_bytes(used.get("disk") or 0)) == (counted["servers"], counted["cpu"], counted["memory_mib"],
                                                          counted["disk"])


def _quota_refused(stack: StackState, namespace: str, name: str, type_: str = "Provisioned") -> str:
    status = wait_for(lambda: condition_is(stack, "ecs", name, namespace, type_, "False", "QuotaExceeded"),
                      timeout=30, what=f"ECS {namespace}/{name} {type_}=False QuotaExceeded")
    message: str = conditions(status)[type_]["message"]
    return message


def test_create_and_resize_past_the_quota_are_refused_with_numbers(stack: StackState, backend: Backend,
                                                                   namespace: str) -> None:
    _quota(stack, namespace, servers=2, cpu=5)
    for name in ("a", "b"):
        apply(stack, backend.manifest(name, powerCyclePolicy="Automatic"), namespace=namespace)
    wait_ready(stack, namespace, "a", timeout=60)
    wait_ready(stack, namespace, "b", timeout=60)

    apply(stack, backend.manifest("c", powerCyclePolicy="Automatic"), namespace=namespace)
    message = _quota_refused(stack, namespace, "c")
    assert "ServerQuota compute: servers 2 in use + 1 requested > 2 allowed" in message
    stays(lambda: backend.names(namespace) == [f"{namespace}.a", f"{namespace}.b"], 3,
          what=f"{backend}: no VM for c")

    patch_spec(stack, namespace, "a", {"cpu": 4})  # 4 + 2 > 5
    message = _quota_refused(stack, namespace, "a", "ConfigSynced")
    assert "ServerQuota compute: vCPUs 4 in use + 2 requested > 5 allowed" in message
    stays(lambda: (backend.vm(namespace, "a") or {}).get("cpu") == 2, 3, what=f"{backend}: a not resized")
    patch_spec(stack, namespace, "a", {"cpu": 3})  # 3 + 2 = 5: admitted
    wait_for(lambda: (backend.vm(namespace, "a") or {}).get("cpu") == 3, timeout=60, what=f"{backend}: a resized")

    # freeing a server lets the waiting one in, without anyone touching it
    stack.kubectl("delete", "ecs", "b", "--wait=false", namespace=namespace)
    wait_ready(stack, namespace, "c", timeout=90)
    assert backend.names(namespace) == [f"{namespace}.a", f"{namespace}.c"]
    wait_for(lambda: _matches_backend(stack, backend, namespace), timeout=30,
             what=f"status.used as {backend} counts it: {_counted(backend, namespace)}")
    used = _used(stack, namespace)
    assert (used["servers"], used["cpu"]) == (2, 5)
    assert conditions(status_of(stack, "squota", "compute", namespace))["Ready"]["message"].startswith(
        "servers 2/2, vCPUs 5/5; no more servers, vCPUs")


def test_a_burst_of_20_concurrent_applies_never_exceeds_the_quota(stack: StackState, backend: Backend,
                                                                   namespace: str) -> None:
    _quota(stack, namespace, servers=5)
    wait_for(lambda: _used(stack, namespace).get("servers") == 0, timeout=20, what="the quota's status")
    most = [0]
    done = threading.Event()

    def watch() -> None:  # what the backend holds, all along
        while not done.is_set():
            most[0] = max(most[0], backend.count(namespace))
            time.sleep(0.2)

    def apply_one(index: int) -> int:
        body = json.dumps(backend.manifest(f"burst-{index}"))
        return subprocess.run(["kubectl", "apply", "-n", namespace, "-f", "-"], input=body, text=True,
                              capture_output=True, env=os.environ | stack.env(), check=False).returncode

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            assert list(pool.map(apply_one, range(20))) == [0] * 20
        names = [f"burst-{i}" for i in range(20)]

        def settled() -> tuple[list[str], list[str]] | None:
            ready = [n for n in names if condition_is(stack, "ecs", n, namespace, "Ready", "True")]
            refused = [n for n in names if condition_is(stack, "ecs", n, namespace, "Ready", "False", "QuotaExceeded")]
            return (ready, refused) if len(ready) + len(refused) == 20 else None

        ready, refused = wait_for(settled, timeout=180, interval=1, what="all 20 Ready or QuotaExceeded")
        stays(lambda: backend.count(namespace) == 5, 5, what=f"{backend}: exactly 5 VMs")
    finally:
        done.set()
        watcher.join()
    assert (len(ready), len(refused)) == (5, 15)
    assert most[0] == 5, f"{backend} held {most[0]} VMs at some point"
    wait_for(lambda: _matches_backend(stack, backend, namespace), timeout=30, what="status.used as the backend counts")


def test_a_set_stops_at_the_limit_and_a_lower_quota_deletes_nothing(stack: StackState, backend: Backend,
                                                                    namespace: str) -> None:
    _quota(stack, namespace, servers=3, memory="6Gi")
    template = backend.manifest("x")
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "w"},
                  "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "w"}},
                           "template": {"metadata": {"labels": {"app": "w"}}, "spec": template["spec"]}}},
          namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecsset", "w", namespace, "Ready", "False", "QuotaExceeded"),
                      timeout=60, what="the set stops at the quota")
    message = conditions(status)["Ready"]["message"]
    assert message.startswith("3 of 5 servers made, no more: ServerQuota compute: servers 3 in use + 1 requested "
                              "> 3 allowed, memory 6Gi in use + 2Gi requested > 6Gi allowed"), message
    wait_for(lambda: backend.count(namespace) == 3, timeout=60, what=f"{backend}: 3 VMs")
    for child in ("w-0", "w-1", "w-2"):
        wait_ready(stack, namespace, child, timeout=60)
    stays(lambda: backend.count(namespace) == 3, 3, what=f"{backend}: no fourth VM")

    _quota(stack, namespace, servers=1)  # below use: growth blocked, nothing deleted
    stack.kubectl("scale", "ecsset/w", "--replicas=6", namespace=namespace)
    stays(lambda: backend.count(namespace) == 3 and len(json.loads(stack.kubectl(
        "get", "ecs", "-o", "json", namespace=namespace).stdout)["items"]) == 3, 5, what="3 servers stay")
    assert "servers 3 in use + 1 requested > 1 allowed" in conditions(status_of(stack, "ecsset", "w", namespace))[
        "Ready"]["message"]

    _quota(stack, namespace, servers=4, memory="8Gi")  # room for one more
    wait_for(lambda: backend.count(namespace) == 4, timeout=60, what=f"{backend}: a fourth VM")
    wait_for(lambda: _matches_backend(stack, backend, namespace), timeout=30, what="status.used as the backend counts")
    assert _used(stack, namespace)["memory"] == "8Gi"
    assert _counted(backend, namespace)["disk"] == 4 * backend.template_disk


def test_private_images_count_against_the_quota(stack: StackState, operator: OperatorProcess, namespace: str) -> None:
    _quota(stack, namespace, images=1)
    images = [{"apiVersion": "herder.dev/v1alpha1", "kind": "Image", "metadata": {"name": name},
               "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                        "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}} for name in ("first", "second")]
    apply(stack, images[0], namespace=namespace)
    wait_for(lambda: condition_is(stack, "img", "first", namespace, "Ready", "True"), timeout=30, what="first")
    apply(stack, images[1], namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "img", "second", namespace, "Ready", "False", "QuotaExceeded"),
                      timeout=30, what="second refused")
    assert "ServerQuota compute: images 1 in use + 1 requested > 1 allowed" in conditions(status)["Ready"]["message"]
    assert "uniqueID" not in status
    stack.kubectl("delete", "img", "first", namespace=namespace)
    wait_for(lambda: condition_is(stack, "img", "second", namespace, "Ready", "True"), timeout=60,
             what="second admitted once first is gone")
    # The quota's status follows its images' events: it may trail the image's own Ready by a moment.
    wait_for(lambda: _used(stack, namespace).get("images") == 1, timeout=20, what="the quota's status")
