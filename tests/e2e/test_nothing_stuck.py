"""Nothing stuck: objects that never made anything on a backend (their provider never existed, or never became
Ready) are deleted at once, pools whose parents form a cycle say so and go, and what cannot make progress says
why in plain words (no Python exception text, no HTTP dump)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_world import (
    CLUSTER_IMAGE,
    apply,
    condition_is,
    conditions,
    ecs_manifest,
    get,
    vcenter_zone_spec,
    wait_for,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

DELETED_WITHIN_SECONDS = 10.0
CHECKSUM = "sha256:" + "0" * 64
PYTHON_TEXT = ("Errno", "object at 0x", "Traceback", "HTTPConnectionPool", "Max retries", "HTTP response headers",
               "Reason:", "(403)")


def _gone_quickly(stack: StackState, kind: str, name: str, namespace: str | None = None) -> float:
    started = time.monotonic()
    stack.kubectl("delete", kind, name, "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, kind, name, namespace) is None, timeout=DELETED_WITHIN_SECONDS,
             interval=0.2, what=f"{kind} {name} deleted")
    return time.monotonic() - started


@pytest.fixture
def unready(stack: StackState, operator: OperatorProcess) -> Iterator[tuple[str, str]]:
    """(a VCenter that never becomes Ready: nothing listens at its address and its Secret does not exist, a zone
    on it)."""
    token = uuid.uuid4().hex[:6]
    vcenter, zone = f"never-{token}", f"never-{token}"
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": vcenter},
                  "spec": {"server": "127.0.0.1:1", "datacenter": "DC0",
                           "credentialsSecretRef": {"namespace": "herder-system", "name": f"missing-{token}"}}},
          {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
           "spec": vcenter_zone_spec("DC0_C0") | {"provider": {"kind": "VCenter", "name": vcenter}}})
    wait_for(lambda: condition_is(stack, "vc", vcenter, None, "Ready", "False"), timeout=30, what="VCenter not Ready")
    try:
        yield vcenter, zone
    finally:
        stack.kubectl("delete", "az", zone, "--wait=false", check=False)
        stack.kubectl("delete", "vc", vcenter, "--wait=false", check=False)


def _image(name: str, provider: str) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "Image", "metadata": {"name": name},
            "spec": {"provider": {"kind": "VCenter", "name": provider}, "osFamily": "Linux",
                     "source": {"url": {"url": "https://images.example/u.ova", "checksum": CHECKSUM}}}}


def test_an_image_whose_provider_never_existed_is_deleted_at_once(stack: StackState, operator: OperatorProcess,
                                                                   namespace: str) -> None:
    apply(stack, _image("orphan", f"ghost-{uuid.uuid4().hex[:6]}"), namespace=namespace)
    # (within the operator's first 30 s a missing provider is still expected to connect: no verdict before)
    wait_for(lambda: condition_is(stack, "img", "orphan", namespace, "Ready", "False", "ProviderNotReady"),
             timeout=60, what="Image not Ready")
    assert _gone_quickly(stack, "img", "orphan", namespace) < DELETED_WITHIN_SECONDS


def test_objects_on_a_provider_that_never_became_ready_are_deleted_at_once(
        stack: StackState, unready: tuple[str, str], namespace: str) -> None:
    vcenter, zone = unready
    apply(stack, _image("waiting", vcenter), ecs_manifest("waiting", availabilityZone=zone), namespace=namespace)
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool", "metadata": {"name": f"p-{zone}"},
                  "spec": {"zone": zone}})
    for kind, name, ns in (("img", "waiting", namespace), ("ecs", "waiting", namespace), ("rpool", f"p-{zone}", None)):
        status = wait_for(lambda k=kind, n=name, s=ns: condition_is(stack, k, n, s, "Ready", "False"), timeout=60,
                          what=f"{kind} {name} not Ready")
        message = conditions(status)["Ready"]["message"]
        assert vcenter in message, message  # says why: the provider it waits for
        assert _gone_quickly(stack, kind, name, ns) < DELETED_WITHIN_SECONDS


def test_pools_whose_parents_form_a_cycle_say_so_and_are_deleted(stack: StackState, operator: OperatorProcess) -> None:
    """The API refuses a pool that is its own parent; a longer cycle needs two objects made in an order that lets
    each name the other, which no schema can see."""
    a, b = (f"cycle-{uuid.uuid4().hex[:6]}-{x}" for x in "ab")
    pools = [{"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool", "metadata": {"name": name},
              "spec": {"zone": "dc0-c0", "parent": parent}} for name, parent in ((a, b), (b, a))]
    apply(stack, *pools)
    for name in (a, b):
        status = wait_for(lambda n=name: condition_is(stack, "rpool", n, None, "Ready", "False", "ParentInvalid"),
                          timeout=30, what=f"{name}: ParentInvalid")
        assert "forms a cycle" in conditions(status)["Ready"]["message"]
    assert _gone_quickly(stack, "rpool", a) < DELETED_WITHIN_SECONDS
    assert _gone_quickly(stack, "rpool", b) < DELETED_WITHIN_SECONDS


def test_refusals_read_as_plain_words(stack: StackState, operator: OperatorProcess, namespace: str) -> None:
    """A set whose servers Kubernetes refuses (a ResourceQuota on the object count), and an import from a port
    nothing listens on: the conditions carry the API server's words and the network's, nothing of Python."""
    stack.kubectl("create", "quota", "count", "--hard=count/elasticcloudservers.herder.dev=1", namespace=namespace)
    # the stack has no controller-manager to count: say what it would
    stack.kubectl("patch", "resourcequota", "count", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"hard": {"count/elasticcloudservers.herder.dev": "1"},
                    "used": {"count/elasticcloudservers.herder.dev": "1"}}}), namespace=namespace)
    template = ecs_manifest("x", image={"kind": "ClusterImage", "name": CLUSTER_IMAGE})["spec"]
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "w"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "w"}},
                           "template": {"metadata": {"labels": {"app": "w"}}, "spec": template}}},
          _image("offline", "vcsim") | {"spec": _image("offline", "vcsim")["spec"] | {"source": {"url": {
              "url": "http://127.0.0.1:1/ubuntu.ova", "checksum": CHECKSUM}}}}, namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecsset", "w", namespace, "Ready", "False", "ScaleFailed"),
                      timeout=30, what="the set's ScaleFailed")
    refused = conditions(status)["Ready"]["message"]
    assert refused.startswith('Kubernetes refused a change to a server of the set: elasticcloudservers.herder.dev '
                              '"w-0" is forbidden: exceeded quota: count'), refused
    status = wait_for(lambda: condition_is(stack, "img", "offline", namespace, "Ready", "False", "DownloadFailed"),
                      timeout=30, what="the import's DownloadFailed")
    download = conditions(status)["Ready"]["message"]
    assert download == "GET http://127.0.0.1:1/ubuntu.ova: the connection was refused", download
    for message in (refused, download):
        assert not any(text in message for text in PYTHON_TEXT), message
