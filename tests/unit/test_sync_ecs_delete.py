"""Deleting an ECS against the fake provider: Delete destroys, Orphan unmarks, a gone VM or zone never
blocks, a task in flight is waited for (a guest shutdown is not), a missing provider offers Orphan."""

from __future__ import annotations

import pytest

from fakes.harness import NAMESPACE, VCENTER, Body, Harness, captured_image, changed, server
from herder.api.annotations import CAPTURE_HOLD_ANNOTATION
from herder.api.ecs import PowerState
from herder.controllers.ecs import delete
from herder.controllers.ecs.delete import Deletion, delete_server
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold


def deleting(harness: Harness, body: Body) -> Deletion:
    return delete_server(harness.runtime, body, harness.lookups)


def test_delete_destroys_the_vm(harness: Harness) -> None:
    body, _ = harness.provision(server())
    harness.fake.tasks.quick = True
    result = deleting(harness, body)
    assert result.done, result.message
    assert "destroyed" in result.message
    assert harness.fake.vms.all() == []
    assert harness.fake.calls.count("vms.destroy") == 1


def test_a_destroy_that_outlasts_the_wait_is_finished_by_a_later_pass(harness: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    body, vm = harness.provision(server())
    monkeypatch.setattr(delete, "TASK_WAIT_SECONDS", -1.0)  # one look at the task, no waiting
    first = deleting(harness, body)
    assert (first.done, first.message) == (False, "team-a/web-1: destroying VM team-a.web-1")
    assert harness.fake.vms.get(vm.ref) is not None
    harness.fake.tasks.succeed()
    second = deleting(harness, body)
    assert second.done and "no VM left" in second.message
    assert harness.fake.calls.count("vms.destroy") == 1


def test_delete_with_orphan_unmarks_the_vm_and_leaves_it_running(harness: Harness) -> None:
    legacy = harness.fake.vms.add("legacy-db")
    body = server(adoptFrom={"uniqueID": legacy.unique_id}, deletionPolicy="Orphan")
    del body["spec"]["image"]
    body, _ = harness.sync(body)
    assert harness.fake.vms.get(legacy.ref).owner_uid == body["metadata"]["uid"]  # type: ignore[union-attr]
    result = deleting(harness, body)
    assert result.done and "orphaned" in result.message
    left = harness.fake.vms.get(legacy.ref)
    assert left is not None and (left.owner_uid, left.power) == (None, PowerState.ON)
    assert "vms.destroy" not in harness.fake.calls


def test_delete_completes_when_the_vm_is_already_gone(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.vanish(vm.ref)
    result = deleting(harness, body)
    assert result.done and "no VM left" in result.message
    assert "vms.destroy" not in harness.fake.calls


def test_delete_completes_when_the_zone_is_gone(harness: Harness) -> None:
    body, vm = harness.provision(server())
    del harness.indexes["zones"]["dc0-c0"]
    result = deleting(harness, body)
    assert result.done and "left as it is" in result.message
    assert harness.fake.calls == []
    assert harness.fake.vms.get(vm.ref) is not None


def test_delete_waits_for_a_running_task(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.drift(vm.ref, power=PowerState.OFF)
    body, _ = harness.sync(body)  # a power-on is in flight
    result = deleting(harness, body)
    assert not result.done and "waiting for power-on task" in result.message
    assert "vms.destroy" not in harness.fake.calls


def test_delete_does_not_wait_for_a_guest_shutdown(harness: Harness) -> None:
    body, _ = harness.provision(server())
    image = harness.add(captured_image("snap", "web-1"))
    hold = CaptureHold(f"Image/{NAMESPACE}/snap", image["metadata"]["uid"], graceful=True)
    body, _ = harness.sync(changed(body, annotations={CAPTURE_HOLD_ANNOTATION: hold.annotation()}))
    assert body["status"]["pendingTask"]["operation"] == "guest-shutdown"  # a guest that may never stop
    harness.fake.tasks.quick = True
    result = deleting(harness, body)
    assert result.done, result.message
    assert harness.fake.vms.all() == []


def test_delete_waits_for_a_disconnected_provider_and_offers_orphan(harness: Harness) -> None:
    body, _ = harness.provision(server())
    handle = harness.runtime.providers[VCENTER]
    handle.ready, handle.reason, handle.message = False, Reason.UNREACHABLE, "connection refused"
    result = deleting(harness, body)
    assert not result.done
    assert "deletionPolicy: Orphan" in result.message and "connection refused" in result.message
    assert result.delay == 2.0
    assert harness.fake.calls == []
