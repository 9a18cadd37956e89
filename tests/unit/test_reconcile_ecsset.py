"""The ECS set's planner: how it scales and rolls template changes out, one step per pass."""

from __future__ import annotations

from typing import Any

from herder.api.ecsset import ElasticCloudServerSet
from herder.reasons import Reason
from herder.reconcile.ecsset import Child, plan_set, template_hash


def server_set(cpu: int = 2, image: str = "ubuntu", replicas: int = 3, **strategy: Any) -> ElasticCloudServerSet:
    return ElasticCloudServerSet.model_validate({
        "apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet",
        "metadata": {"name": "web", "namespace": "team", "uid": "set-uid"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "updateStrategy": strategy,
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"image": {"kind": "ClusterImage", "name": image}, "cpu": cpu,
                                       "memory": "1Gi"}}}})


def child(name: str, hash_: str, *, ready: bool = True, image: str = "ClusterImage/ubuntu",
          deleting: bool = False) -> Child:
    return Child(name, ready=ready, zone="z1", deleting=deleting, template_hash=hash_, image=image)


def test_the_zone_is_not_part_of_the_template_hash() -> None:
    plain = server_set()
    zoned = server_set()
    zoned.spec.template.spec.availability_zone = "z2"
    assert template_hash(plain) == template_hash(zoned) != template_hash(server_set(cpu=4))


def test_missing_children_take_the_lowest_free_ordinals_and_a_deleting_one_keeps_its_name() -> None:
    s = server_set(replicas=4)
    current = template_hash(s)
    plan = plan_set(s, [child("web-0", current), child("web-2", current), child("web-1", current, deleting=True)])
    assert plan.create == ("web-3", "web-4") and not plan.delete and not plan.update
    assert plan.status["replicas"] == 2 and plan.ready.reason is Reason.SCALING and not plan.ready.status


def test_surplus_goes_not_ready_first_then_highest_ordinal() -> None:
    s = server_set(replicas=1)
    current = template_hash(s)
    plan = plan_set(s, [child("web-0", current), child("web-1", current, ready=False), child("web-2", current)])
    assert plan.delete == ("web-1", "web-2") and not plan.create


def test_in_place_changes_go_one_at_a_time_from_the_highest_ordinal() -> None:
    old, new = server_set(), server_set(cpu=4)
    plan = plan_set(new, [child(f"web-{i}", template_hash(old)) for i in range(3)])
    assert plan.update == ("web-2",) and not plan.replace
    assert plan.ready.reason is Reason.UPDATING and plan.status["updatedReplicas"] == 0


def test_nothing_more_while_a_child_is_not_ready_and_more_with_a_larger_budget() -> None:
    old, new = server_set(), server_set(cpu=4)
    updating = child("web-2", template_hash(new), ready=False)
    live = [child("web-0", template_hash(old)), child("web-1", template_hash(old)), updating]
    assert plan_set(new, live).update == ()
    wider = server_set(cpu=4, maxUnavailable=2)
    assert plan_set(wider, live).update == ("web-1",)


def test_an_image_change_replaces_and_on_delete_leaves_children_alone() -> None:
    old = server_set()
    live = [child(f"web-{i}", template_hash(old)) for i in range(3)]
    assert plan_set(server_set(image="rocky"), live).replace == ("web-2",)
    on_delete = plan_set(server_set(cpu=4, type="OnDelete"), live)
    assert (on_delete.update, on_delete.replace, on_delete.create, on_delete.delete) == ((), (), (), ())


def test_ready_when_every_child_is_ready_on_the_current_template() -> None:
    s = server_set()
    plan = plan_set(s, [child(f"web-{i}", template_hash(s)) for i in range(3)])
    assert plan.ready.status and plan.ready.reason is Reason.READY
    assert plan.status == {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "selector": "app=web"}


def test_a_region_change_replaces_children_since_a_server_does_not_change_region() -> None:
    old = server_set()
    moved = server_set()
    moved.spec.template.spec.region = "eu-2"
    assert template_hash(moved) != template_hash(old)
    live = [child(f"web-{i}", template_hash(old)) for i in range(3)]
    plan = plan_set(moved, live)
    assert plan.replace == ("web-2",) and plan.update == ()
    there = [Child(f"web-{i}", ready=True, zone="z1", template_hash=template_hash(old), image="ClusterImage/ubuntu",
                   region="eu-2") for i in range(3)]
    assert plan_set(moved, there).update == ("web-2",)  # already in the region: in place
