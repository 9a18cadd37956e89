"""The ECS set's rolling update: which children change, how, and how many at a time (pure decisions; the
Kubernetes calls are recorded, not made)."""

from __future__ import annotations

from typing import Any

import pytest

from herder.api.ecsset import ElasticCloudServerSet
from herder.controllers import ecsset
from herder.controllers.ecsset import roll, template_hash


def server_set(cpu: int = 2, image: str = "ubuntu", **strategy: Any) -> ElasticCloudServerSet:
    return ElasticCloudServerSet.model_validate({
        "apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet",
        "metadata": {"name": "web", "namespace": "team", "uid": "set-uid"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "updateStrategy": strategy,
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"image": {"kind": "ClusterImage", "name": image}, "cpu": cpu,
                                       "memory": "1Gi"}}}})


def child(name: str, hash_: str, *, ready: bool = True, image: str = "ClusterImage/ubuntu") -> dict[str, Any]:
    return {"name": name, "ready": ready, "settled": True, "zone": "z1", "deleting": False, "hash": hash_,
            "image": image}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    made: list[tuple[str, str, Any]] = []
    monkeypatch.setattr(ecsset.kube, "patch_custom_object",
                        lambda plural, ns, name, body, json_patch=False: made.append(("patch", name, body)))
    monkeypatch.setattr(ecsset.kube, "delete_custom_object",
                        lambda plural, ns, name: made.append(("delete", name, None)))
    return made


def test_the_zone_is_not_part_of_the_template_hash() -> None:
    plain = server_set()
    zoned = server_set()
    zoned.spec.template.spec.availability_zone = "z2"
    assert template_hash(plain) == template_hash(zoned) != template_hash(server_set(cpu=4))


def test_in_place_changes_go_one_at_a_time_from_the_highest_ordinal(calls: list[tuple[str, str, Any]]) -> None:
    old, new = server_set(), server_set(cpu=4)
    live = [child(f"web-{i}", template_hash(old)) for i in range(3)]
    roll(new, live, live, template_hash(new))
    assert [(kind, name) for kind, name, _ in calls] == [("patch", "web-2"), ("patch", "web-2")]
    spec_patch = calls[0][2]
    assert spec_patch[0]["path"] == "/spec" and spec_patch[0]["value"]["cpu"] == 4
    assert spec_patch[0]["value"]["availabilityZone"] == "z1"  # the child keeps its zone
    assert calls[1][2]["metadata"]["annotations"][ecsset.TEMPLATE_HASH] == template_hash(new)


def test_nothing_more_while_a_child_is_not_ready_and_more_with_a_larger_budget(
        calls: list[tuple[str, str, Any]]) -> None:
    old, new = server_set(), server_set(cpu=4)
    updating = child("web-2", template_hash(new), ready=False)
    live = [child("web-0", template_hash(old)), child("web-1", template_hash(old)), updating]
    roll(new, live, live, template_hash(new))
    assert calls == []
    wider = server_set(cpu=4, maxUnavailable=2)
    roll(wider, live, live, template_hash(wider))
    assert [name for _, name, _ in calls][:1] == ["web-1"] and len(calls) == 2


def test_an_image_change_replaces_and_on_delete_leaves_children_alone(calls: list[tuple[str, str, Any]]) -> None:
    old = server_set()
    live = [child(f"web-{i}", template_hash(old)) for i in range(3)]
    rocky = server_set(image="rocky")
    roll(rocky, live, live, template_hash(rocky))
    assert calls == [("delete", "web-2", None)]
    calls.clear()
    on_delete = server_set(cpu=4, type="OnDelete")
    roll(on_delete, live, live, template_hash(on_delete))
    assert calls == []
