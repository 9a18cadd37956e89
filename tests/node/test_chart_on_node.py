"""The chart on a real node: `helm install` runs herder's pod from the locally built image, the pod
reconciles the demo, `helm upgrade` to a new tag replaces it without overlap, and neither that nor deleting
the pod in the middle of a create gives a duplicate VM. govc, an independent client, checks vCenter."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, Helm
from e2e_world import Govc, wait_for

from herder_dev import demo, node, node_images
from herder_dev.processes import free_port
from herder_dev.stack import SYSTEM_NAMESPACE, StackState

pytestmark = pytest.mark.stack

RELEASE = "herder"
POD_SELECTOR = f"app.kubernetes.io/name=herder,app.kubernetes.io/instance={RELEASE}"


def _pods(stack: StackState) -> list[dict[str, Any]]:
    out = stack.kubectl("get", "pods", "-l", POD_SELECTOR, "-o", "json", namespace=SYSTEM_NAMESPACE).stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _running_pod(stack: StackState, not_uid: str = "") -> dict[str, Any]:
    """The release's one pod, Ready and not the pod `not_uid`."""
    def one_ready() -> dict[str, Any] | None:
        pods = _pods(stack)
        if len(pods) == 1 and pods[0]["metadata"]["uid"] != not_uid and _ready(pods[0]):
            return pods[0]
        return None

    pod: dict[str, Any] = wait_for(one_ready, timeout=180, interval=1, what="herder's pod Ready")
    return pod


def _values(stack: StackState, image: str) -> dict[str, Any]:
    repository, tag = image.rsplit(":", 1)
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        # The test world listens on the node's loopback: the API server (not reachable through a Service
        # here, there is no kube-proxy), vcsim and the SCVMM simulator.
        "hostNetwork": True,
        "extraEnv": [{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
                     {"name": "KUBERNETES_SERVICE_PORT", "value": str(stack.processes["kube-apiserver"].port)}],
        "liveness": {"port": free_port()},
        "metrics": {"port": free_port()},
    }


@pytest.fixture(scope="module")
def release(node_stack: StackState, node_helm: Helm, node_herder_image: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chart installed (helm waits for the Deployment) with the local image; its image name."""
    values = tmp_path_factory.mktemp("values") / "values.yaml"
    values.write_text(yaml.safe_dump(_values(node_stack, node_herder_image)))
    node_helm("install", RELEASE, str(CHART), "--namespace", SYSTEM_NAMESPACE, "--values", str(values),
              "--wait", "--timeout", "4m")
    yield node_herder_image
    node_helm("uninstall", RELEASE, "--namespace", SYSTEM_NAMESPACE, "--wait", check=False)


def _vcenter_servers(stack: StackState, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(stack.kubectl("get", "ecs", "-o", "json",
                                                           namespace=namespace).stdout)["items"]
    return [i for i in items if not i["metadata"]["name"].startswith("hv-")]  # hv-*: the examples' SCVMM ones


def _assert_one_vm_each(stack: StackState, govc: Govc, namespace: str) -> None:
    """Every vCenter ECS in `namespace` has exactly one VM, which carries the ECS's UID, and no VM more."""
    servers = _vcenter_servers(stack, namespace)
    assert servers
    prefix = f"{namespace}."
    assert govc.vms(prefix) == sorted(prefix + s["metadata"]["name"] for s in servers)
    for server in servers:
        vm = govc.vm(prefix + server["metadata"]["name"])
        assert vm is not None
        assert vm["config"]["instanceUuid"] == server["metadata"]["uid"]


def _all_ready(stack: StackState, namespace: str) -> bool:
    ready, total = demo.ready_counts(stack, namespace)
    return 0 < ready == total


def test_the_pod_runs_on_the_node_and_reconciles_the_demo(node_stack: StackState, release: str,
                                                          node_govc: Govc) -> None:
    pod = _running_pod(node_stack)
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    assert pod["spec"]["containers"][0]["image"] == release
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"  # the controller-manager made it

    demo.apply_examples(node_stack)
    wait_for(lambda: _all_ready(node_stack, demo.NAMESPACE), timeout=240, interval=2,
             what="every demo ECS Ready, reconciled by the pod")
    _assert_one_vm_each(node_stack, node_govc, demo.NAMESPACE)


class _PodCounter(threading.Thread):
    """Samples how many of the release's pods exist (running or terminating) until stopped."""

    def __init__(self, stack: StackState) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.most = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.most = max(self.most, len(_pods(self.stack)))
            time.sleep(0.2)


def test_upgrade_to_a_new_tag_recreates_the_pod_without_overlap_or_duplicate(
        node_stack: StackState, node_helm: Helm, release: str, node_govc: Govc) -> None:
    demo.apply_examples(node_stack)
    wait_for(lambda: _all_ready(node_stack, demo.NAMESPACE), timeout=240, interval=2, what="demo ECSs Ready")
    old = _running_pod(node_stack)
    repository = release.rsplit(":", 1)[0]
    node_images.tag(node.NodeLayout(node_stack.dir).socket, release, f"{repository}:upgraded")

    counter = _PodCounter(node_stack)
    counter.start()
    try:
        node_helm("upgrade", RELEASE, str(CHART), "--namespace", SYSTEM_NAMESPACE, "--reuse-values",
                  "--set", "image.tag=upgraded", "--wait", "--timeout", "4m")
        new = _running_pod(node_stack, not_uid=old["metadata"]["uid"])
    finally:
        counter.done.set()
        counter.join()
    assert new["spec"]["containers"][0]["image"] == f"{repository}:upgraded"
    assert counter.most == 1, "Recreate: the old pod is gone before the new one is created"

    # The new pod takes over the same servers: nothing re-created, and it reconciles a new one.
    demo.apply_examples(node_stack)
    node_stack.kubectl("apply", "-f", "-", input=yaml.safe_dump(demo.server_manifest("after-upgrade")),
                       namespace=demo.NAMESPACE)
    wait_for(lambda: _all_ready(node_stack, demo.NAMESPACE), timeout=240, interval=2,
             what="every demo ECS Ready after the upgrade")
    _assert_one_vm_each(node_stack, node_govc, demo.NAMESPACE)


def test_deleting_the_pod_mid_create_gives_no_duplicate(node_stack: StackState, release: str,
                                                        node_govc: Govc) -> None:
    namespace = "mid-create"
    node_stack.kubectl("create", "namespace", namespace)
    names = [f"m{i}" for i in range(3)]
    node_stack.kubectl("apply", "-f", "-", namespace=namespace,
                       input=yaml.safe_dump_all([demo.server_manifest(n) for n in names]))

    def in_flight() -> bool:
        # Asked of vCenter: a task younger than a few seconds is not written to status (docs/ecs.md).
        return bool(node_govc.running_tasks())

    old = _running_pod(node_stack)
    wait_for(in_flight, timeout=60, interval=0.2, what="a clone in flight")
    node_stack.kubectl("delete", "pod", old["metadata"]["name"], "--wait=false", namespace=SYSTEM_NAMESPACE)
    assert in_flight(), "the pod was deleted after the clones had finished"

    _running_pod(node_stack, not_uid=old["metadata"]["uid"])
    wait_for(lambda: _all_ready(node_stack, namespace), timeout=240, interval=2,
             what="every ECS Ready after the pod was replaced")
    _assert_one_vm_each(node_stack, node_govc, namespace)
