"""ECS set passes: the Kubernetes calls each makes (through a stand-in for herder.kube) to scale up, spread
over zones, scale down, update children in place, replace them on an image change, and a refusal."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from fakes.harness import NAMESPACE, Body, Harness, advance, changed, cluster_image, reason, server_set, zone
from fakes.kube import FakeKube
from herder import kube as herder_kube
from herder.controllers.ecsset.sync import SERVERS, TEMPLATE_HASH, child_of, set_failed, sync_set
from herder.controllers.shared.daemon import Pass
from herder.errors import HerderError
from herder.reconcile.ecsset import Child


def children(kube: FakeKube, owner: Body) -> list[Child]:
    """The set's children as its index sees them."""
    owned = [child_of(name, body) for (plural, _, name), body in sorted(kube.objects.items()) if plural == SERVERS]
    return [child for set_uid, child in filter(None, owned) if set_uid == owner["metadata"]["uid"]]


def set_pass(harness: Harness, kube: FakeKube, body: Body) -> tuple[Body, Pass]:
    try:
        result = sync_set(harness.runtime, body, children(kube, body), harness.lookups)
    except HerderError as exc:
        result = set_failed(harness.runtime, body, exc)
    return advance(body, result), result


def all_ready(kube: FakeKube) -> None:
    """Every child's VM is up: Ready, for the generation it has."""
    for (plural, _, _), body in kube.objects.items():
        if plural == SERVERS:
            body["status"] = {"observedGeneration": body["metadata"]["generation"],
                              "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}]}


def stored(kube: FakeKube, name: str) -> dict[str, Any]:
    found = kube.get(SERVERS, NAMESPACE, name)
    assert found is not None
    return found


def scaled(harness: Harness, kube: FakeKube, replicas: int, **spec: Any) -> Body:
    """A set whose `replicas` children were made and are Ready; the call log starts afresh."""
    body, _ = set_pass(harness, kube, server_set("workers", replicas, availabilityZone="dc0-c0", **spec))
    all_ready(kube)
    kube.calls.clear()
    return body


def test_scaling_up_creates_the_missing_children_owned_by_the_set(harness: Harness, kube: FakeKube) -> None:
    body, result = set_pass(harness, kube, server_set("workers", 3, availabilityZone="dc0-c0"))
    assert kube.verbs(SERVERS) == [("create", "workers-0"), ("create", "workers-1"), ("create", "workers-2")]
    child = stored(kube, "workers-1")
    (owner,) = child["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ElasticCloudServerSet", body["metadata"]["uid"],
                                                                  True)
    assert child["metadata"]["annotations"][TEMPLATE_HASH]
    assert (child["spec"]["availabilityZone"], child["metadata"]["labels"]) == ("dc0-c0", {"app": "workers"})
    assert (reason(body["status"]), body["status"]["replicas"]) == ("Scaling", 0)
    assert result.delay is None


def test_children_without_a_zone_are_spread_over_the_zones(harness: Harness, kube: FakeKube) -> None:
    harness.add(zone("dc0-c1"))
    set_pass(harness, kube, server_set("workers", 4))
    zones = sorted(stored(kube, f"workers-{i}")["spec"]["availabilityZone"] for i in range(4))
    assert zones == ["dc0-c0", "dc0-c0", "dc0-c1", "dc0-c1"]


def test_scaling_down_deletes_children_not_ready_first_then_the_highest(harness: Harness, kube: FakeKube) -> None:
    body = scaled(harness, kube, 4)
    kube.objects[(SERVERS, NAMESPACE, "workers-1")]["status"] = {}
    body, _ = set_pass(harness, kube, changed(body, replicas=2))
    assert kube.verbs(SERVERS) == [("delete", "workers-1"), ("delete", "workers-3")]


def test_a_template_change_rolls_in_place_one_child_at_a_time(harness: Harness, kube: FakeKube) -> None:
    body = scaled(harness, kube, 3)
    before = copy.deepcopy(stored(kube, "workers-0"))
    body = changed(body, template={"metadata": {"labels": {"app": "workers"}},
                                   "spec": {"image": {"kind": "ClusterImage", "name": "ubuntu"}, "cpu": 2,
                                            "memory": "2Gi", "availabilityZone": "dc0-c0"}})
    body, _ = set_pass(harness, kube, body)
    assert kube.verbs(SERVERS) == [("patch", "workers-2"), ("patch", "workers-2")]
    updated = stored(kube, "workers-2")
    assert updated["spec"]["cpu"] == 2
    assert updated["metadata"]["annotations"][TEMPLATE_HASH] != before["metadata"]["annotations"][TEMPLATE_HASH]
    assert stored(kube, "workers-0")["spec"] == before["spec"]
    assert reason(body["status"]) == "Updating"


def test_an_image_change_replaces_children_instead(harness: Harness, kube: FakeKube) -> None:
    body = scaled(harness, kube, 3)
    harness.add(cluster_image("ubuntu-24"))
    body = changed(body, template={"metadata": {"labels": {"app": "workers"}},
                                   "spec": {"image": {"kind": "ClusterImage", "name": "ubuntu-24"}, "cpu": 1,
                                            "memory": "2Gi", "availabilityZone": "dc0-c0"}})
    set_pass(harness, kube, body)
    assert kube.verbs(SERVERS) == [("delete", "workers-2")]


def test_a_refused_child_is_reported_and_retried(harness: Harness, kube: FakeKube,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(plural: str, namespace: str, body: dict[str, Any]) -> None:
        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(herder_kube, "create_custom_object", forbidden)
    body, result = set_pass(harness, kube, server_set("workers", 1, availabilityZone="dc0-c0"))
    assert reason(body["status"]) == "ScaleFailed"
    assert "403 Forbidden" in body["status"]["conditions"][0]["message"]
    assert result.failed and result.delay == 2.0
