"""ECS sync passes against the fake provider: create, crash recovery, compensation, adoption, drift, resize,
disks, pause and the capture hold, from the Pass each returns and what the backend then holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from fakes.harness import NAMESPACE, Body, Harness, captured_image, changed, condition, reason, server
from fakes.provider import FakeProvider
from herder.api.annotations import CAPTURE_HOLD_ANNOTATION, PAUSED_ANNOTATION, RECREATE_ANNOTATION
from herder.api.ecs import PowerState
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.controllers.shared.tasks import FOLLOW_MIN_SECONDS, WATCH_GRACE_SECONDS, SettledTasks
from herder.errors import Conflict, HerderError, Unreachable
from herder.providers.base import Provider
from herder.providers.types import Operation, TaskRef, TaskStatus
from herder.reconcile.capture import CaptureHold

GIB = 1024**3
WRITES = {"vms.create", "vms.reconfigure", "vms.set_power", "vms.destroy", "vms.adopt", "vms.release",
          "vms.relocate"}


def uid_of(body: Body) -> str:
    return str(body["metadata"]["uid"])


def writes(harness: Harness) -> list[str]:
    return [call for call in harness.fake.calls if call in WRITES]


def follow(harness: Harness, body: Body) -> tuple[Body, str]:
    """End the task the ECS recorded, successfully, and take the next pass; (body, that task's operation)."""
    task = body["status"]["pendingTask"]
    harness.fake.tasks.succeed(task["id"])
    body, _ = harness.sync(body)
    return body, str(task["operation"])


def failed_pass(harness: Harness, body: Body) -> tuple[HerderError, Any]:
    """A pass that raises, reported as the daemon would (server_failed)."""
    with pytest.raises(HerderError) as caught:
        sync_server(harness.runtime, body, harness.lookups)
    return caught.value, server_failed(harness.runtime, body, caught.value)


def woken(harness: Harness, uid: str, change: Callable[[], object]) -> bool:
    """Whether `change` to the backend wakes the daemon of ECS `uid` (runs the Runtime's loop briefly)."""
    async def scenario() -> bool:
        asleep = asyncio.ensure_future(harness.runtime.sleep(uid, 1.0, asyncio.Event()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        change()
        done, _ = await asyncio.wait({asleep}, timeout=0.05)
        asleep.cancel()
        return bool(done)

    return harness.runtime.loop.run_until_complete(scenario())


def test_the_fake_keeps_the_protocol_contract() -> None:
    fake = FakeProvider()
    vm = fake.vms.add("legacy")
    provider: Provider = fake  # mypy --strict (make lint) checks the fake against the Protocol here
    assert provider.vms.set_power(vm, PowerState.ON).finished  # already on: nothing to do
    task = provider.vms.destroy(vm)
    assert provider.vms.task(task).status is TaskStatus.RUNNING
    assert provider.vms.destroy(vm) == task  # repeated while it runs: the same task
    fake.tasks.succeed(task.id)
    assert provider.vms.task(task).status is TaskStatus.SUCCEEDED
    assert provider.vms.find_by_unique_id(vm.unique_id) is None
    assert provider.vms.destroy(vm).finished  # gone: nothing to do
    assert provider.vms.task(TaskRef("task-999", Operation.DESTROY)).status is TaskStatus.UNKNOWN


def test_create_clones_once_and_follows_its_task_to_provisioned(harness: Harness) -> None:
    body = server()
    body, started = harness.sync(body)
    task = body["status"]["pendingTask"]
    assert task["operation"] == "create"
    assert reason(body["status"], "Provisioned") == "Creating"
    assert started.delay == FOLLOW_MIN_SECONDS
    (vm,) = harness.fake.vms.all()
    assert (vm.unique_id, vm.busy) == (uid_of(body), True)

    body, running = harness.sync(body)  # the task still runs: followed, never started twice
    assert body["status"]["pendingTask"]["id"] == task["id"]
    assert running.delay is not None

    harness.fake.tasks.succeed(task["id"])
    body, done = harness.sync(body)
    status = body["status"]
    assert harness.fake.calls.count("vms.create") == 1
    assert "pendingTask" not in status
    assert (status["uniqueID"], status["managedObjectID"], status["powerState"]) == (uid_of(body), vm.ref, "On")
    assert condition(status, "Ready")["status"] == "True"
    assert (done.delay, done.failed) == (None, False)


def test_a_pass_while_the_create_runs_reads_only_its_task(harness: Harness) -> None:
    harness.fake.inventory.held = True  # the watch has not brought the VM being made
    body, _ = harness.sync(server())
    harness.fake.calls.clear()
    body, running = harness.sync(body)
    assert harness.fake.calls == ["vms.task"]  # no identity lookup: the plan waits for the task whatever it sees
    assert reason(body["status"], "Provisioned") == "Creating"
    assert running.quiet and running.delay is not None


@pytest.mark.parametrize("feed_behind", [False, True], ids=["from-the-cache", "looked-up-before-cloning"])
def test_a_create_lost_before_its_status_write_is_found_by_identity(harness: Harness, feed_behind: bool) -> None:
    body = server()
    harness.fake.inventory.held = feed_behind
    harness.sync(body)  # the operator dies before it writes status: the task is recorded nowhere
    body, _ = harness.sync(body)
    assert harness.fake.calls.count("vms.create") == 1
    assert len(harness.fake.vms.all()) == 1
    assert body["status"]["uniqueID"] == uid_of(body)
    harness.fake.tasks.succeed()
    harness.fake.inventory.catch_up()
    body, _ = harness.sync(body)
    assert condition(body["status"], "Ready")["status"] == "True"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_create_that_succeeded_waits_for_the_watch_to_bring_its_vm(harness: Harness) -> None:
    clock = Clock()
    harness.runtime.settled_tasks = SettledTasks(clock)
    harness.fake.inventory.held = True  # the watch reports the new VM only after the clone has ended
    body, _ = harness.sync(server())
    harness.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
    harness.fake.calls.clear()
    body, waiting = harness.sync(body)
    assert harness.fake.calls == ["vms.task"]  # no direct read of the VM
    assert waiting.quiet and 0 < (waiting.delay or 0) <= WATCH_GRACE_SECONDS
    assert body["status"]["pendingTask"]["operation"] == "create"

    assert woken(harness, uid_of(body), harness.fake.inventory.catch_up)  # the watch brings it, and says so
    clock.now += 0.3
    body, done = harness.sync(body)
    assert harness.fake.calls == ["vms.task"]  # the task is remembered, the VM comes from the watch
    assert "pendingTask" not in body["status"]
    assert condition(body["status"], "Ready")["status"] == "True"
    assert (done.quiet, done.delay) == (False, None)


def test_a_created_vm_the_watch_does_not_bring_is_read_once_after_the_grace(harness: Harness) -> None:
    clock = Clock()
    harness.runtime.settled_tasks = SettledTasks(clock)
    harness.fake.inventory.held = True
    body, _ = harness.sync(server())
    harness.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
    harness.fake.calls.clear()
    body, _ = harness.sync(body)
    clock.now += WATCH_GRACE_SECONDS
    body, _ = harness.sync(body)
    assert harness.fake.calls == ["vms.task", "inventory.refresh"]
    assert condition(body["status"], "Ready")["status"] == "True"


def test_a_failed_create_is_compensated_then_retried_after_its_backoff(harness: Harness) -> None:
    body, _ = harness.sync(server())
    uid = uid_of(body)
    harness.fake.tasks.fail(None, "insufficient disk space on LocalDS_0")
    body, _ = harness.sync(body)
    assert writes(harness) == ["vms.create", "vms.destroy"]
    assert body["status"]["pendingTask"]["operation"] == "destroy-failed-create"
    provisioned = condition(body["status"], "Provisioned")
    assert provisioned["reason"] == "CreateFailed"
    assert "insufficient disk space" in provisioned["message"]
    assert "uniqueID" not in body["status"]

    body, _ = follow(harness, body)
    assert harness.fake.vms.all() == []
    assert "pendingTask" not in body["status"]
    assert body["status"]["phase"] == "Failed"

    harness.fake.calls.clear()
    body, held = harness.sync(body)  # woken before the backoff ran out: nothing is tried
    assert writes(harness) == []
    assert reason(body["status"], "Provisioned") == "CreateFailed"
    assert held.failed and held.delay is not None and 0 < held.delay <= 2.0

    harness.runtime.backoff.retry_at[uid] = 0.0  # the backoff ran out
    body, retried = harness.sync(body)
    assert writes(harness) == ["vms.create"]
    assert body["status"]["pendingTask"]["operation"] == "create"
    assert not retried.failed


def test_a_vanished_vm_is_reported_missing_and_never_recreated_on_its_own(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.vanish(vm.ref)
    body, lost = harness.sync(body)
    assert reason(body["status"], "Provisioned") == "VMMissing"
    assert body["status"]["phase"] == "Lost"
    assert lost.delay is None
    body, _ = harness.sync(body)
    assert "vms.create" not in harness.fake.calls
    assert harness.fake.vms.all() == []


def test_the_recreate_annotation_creates_a_new_vm_for_a_vanished_one(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.vanish(vm.ref)
    body, _ = harness.sync(body)
    body, _ = harness.sync(changed(body, annotations={RECREATE_ANNOTATION: "true"}))
    assert writes(harness) == ["vms.create"]
    assert body["status"]["pendingTask"]["operation"] == "create"
    assert "uniqueID" not in body["status"]


def test_adoption_marks_the_vm_and_its_drift_then_wakes_the_ecs(harness: Harness) -> None:
    legacy = harness.fake.vms.add("legacy-db")
    body = server(adoptFrom={"uniqueID": legacy.unique_id})
    del body["spec"]["image"]
    uid = uid_of(body)
    assert not woken(harness, uid, lambda: harness.fake.vms.drift(legacy.ref, memory_mib=4096))

    body, _ = harness.sync(body)
    assert writes(harness) == ["vms.adopt"]
    assert harness.fake.vms.get(legacy.ref).owner_uid == uid  # type: ignore[union-attr]
    # The feed does not report the mark; the pass read it into the cache, where drift routing finds it.
    assert harness.fake.inventory.snapshot()[legacy.unique_id].owner_uid == uid
    assert body["status"]["uniqueID"] == legacy.unique_id
    assert woken(harness, uid, lambda: harness.fake.vms.drift(legacy.ref, power=PowerState.OFF))

    body, _ = harness.sync(body)
    assert writes(harness) == ["vms.adopt", "vms.set_power"]


def test_power_drift_is_corrected_after_a_fresh_read(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.drift(vm.ref, power=PowerState.OFF)
    body, _ = harness.sync(body)
    assert harness.fake.calls == ["inventory.refresh", "vms.set_power"]
    assert body["status"]["pendingTask"]["operation"] == "power-on"
    assert reason(body["status"], "PowerSynced") == "PowerPending"
    body, _ = follow(harness, body)
    assert harness.fake.vms.get(vm.ref).power is PowerState.ON  # type: ignore[union-attr]
    assert condition(body["status"], "PowerSynced")["status"] == "True"


def test_a_stale_cache_is_confirmed_before_any_change(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.drift(vm.ref, power=PowerState.OFF)
    harness.fake.inventory.held = True
    harness.fake.vms.drift(vm.ref, power=PowerState.ON)  # powered on again; the feed has not said so yet
    body, _ = harness.sync(body)
    assert harness.fake.calls == ["inventory.refresh"]
    assert condition(body["status"], "PowerSynced")["status"] == "True"


def test_cpu_drift_on_a_hot_add_vm_is_reconfigured_live(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.drift(vm.ref, cpu=1, cpu_hot_add=True)
    body, _ = harness.sync(body)
    assert writes(harness) == ["vms.reconfigure"]
    body, _ = follow(harness, body)
    now = harness.fake.vms.get(vm.ref)
    assert now is not None and (now.cpu, now.power) == (2, PowerState.ON)
    assert condition(body["status"], "ConfigSynced")["status"] == "True"


def test_a_resize_without_hot_add_power_cycles_under_the_automatic_policy(harness: Harness) -> None:
    body, vm = harness.provision(server(powerCyclePolicy="Automatic"))
    body, _ = harness.sync(changed(body, cpu=4, memory="8Gi"))
    steps = []
    while "pendingTask" in body["status"]:
        body, operation = follow(harness, body)
        steps.append(operation)
    assert steps == ["power-off", "reconfigure", "power-on"]
    now = harness.fake.vms.get(vm.ref)
    assert now is not None and (now.cpu, now.memory_mib, now.power) == (4, 8192, PowerState.ON)
    assert condition(body["status"], "Ready")["status"] == "True"


def test_a_resize_without_hot_add_waits_for_a_person_under_the_manual_policy(harness: Harness) -> None:
    body, vm = harness.provision(server())
    body, waiting = harness.sync(changed(body, cpu=4))
    assert reason(body["status"], "ConfigSynced") == "PowerCycleRequired"
    assert writes(harness) == []
    now = harness.fake.vms.get(vm.ref)
    assert now is not None and (now.cpu, now.power) == (2, PowerState.ON)
    assert waiting.delay is None


def test_disks_grow_add_and_go_in_one_live_reconfigure(harness: Harness) -> None:
    body, vm = harness.provision(server(disks={"data": [{"name": "data", "size": "10Gi"},
                                                        {"name": "old", "size": "1Gi"}]}))
    body, _ = harness.sync(changed(body, disks={"data": [{"name": "data", "size": "20Gi"},
                                                         {"name": "logs", "size": "5Gi"}]}))
    assert writes(harness) == ["vms.reconfigure"]
    body, _ = follow(harness, body)
    now = harness.fake.vms.get(vm.ref)
    assert now is not None and now.power is PowerState.ON
    assert [(d.name, d.size_bytes) for d in now.disks if not d.is_os_disk] == [("data", 20 * GIB), ("logs", 5 * GIB)]
    assert [d["name"] for d in body["status"]["disks"]] == ["os", "data", "logs"]
    assert condition(body["status"], "ConfigSynced")["status"] == "True"


def test_a_disk_never_shrinks(harness: Harness) -> None:
    body, _ = harness.provision(server(disks={"data": [{"name": "data", "size": "10Gi"}]}))
    body, _ = harness.sync(changed(body, disks={"data": [{"name": "data", "size": "5Gi"}]}))
    assert reason(body["status"], "ConfigSynced") == "ShrinkNotSupported"
    assert writes(harness) == []


def test_a_paused_server_makes_no_backend_call_at_all(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.drift(vm.ref, power=PowerState.OFF, cpu=1)
    body, _ = harness.sync(changed(body, annotations={PAUSED_ANNOTATION: "true"}))
    assert harness.fake.calls == []
    assert condition(body["status"], "Paused")["status"] == "True"
    assert reason(body["status"], "PowerSynced") == "PowerPending"


def test_a_paused_server_is_not_created(harness: Harness) -> None:
    body, _ = harness.sync(server(annotations={PAUSED_ANNOTATION: "true"}))
    assert harness.fake.calls == []
    assert reason(body["status"], "Provisioned") == "Paused"


def _hold(harness: Harness, server_name: str) -> CaptureHold:
    image = harness.add(captured_image("snap", server_name))
    return CaptureHold(f"Image/{NAMESPACE}/snap", image["metadata"]["uid"], graceful=True)


def test_a_capture_hold_stops_the_server_through_its_guest_and_then_gives_the_go_ahead(harness: Harness) -> None:
    body, vm = harness.provision(server())
    hold = _hold(harness, "web-1")
    body, _ = harness.sync(changed(body, annotations={CAPTURE_HOLD_ANNOTATION: hold.annotation()}))
    assert body["status"]["pendingTask"]["operation"] == "guest-shutdown"
    assert reason(body["status"], "PowerSynced") == "StoppedForCapture"
    assert "stoppedForCapture" not in body["status"]  # not before the VM is off

    body, _ = follow(harness, body)
    assert body["status"]["stoppedForCapture"] == hold.annotation()
    assert harness.fake.vms.get(vm.ref).power is PowerState.OFF  # type: ignore[union-attr]
    harness.fake.calls.clear()
    body, _ = harness.sync(body)
    assert writes(harness) == []  # held off: the declared power state waits for the capture's end


def test_a_hold_whose_image_is_gone_does_not_keep_the_server_stopped(harness: Harness) -> None:
    body, vm = harness.provision(server())
    hold = CaptureHold(f"Image/{NAMESPACE}/deleted", "uid-of-a-deleted-image", graceful=False)
    harness.fake.vms.drift(vm.ref, power=PowerState.OFF)
    body, _ = harness.sync(changed(body, annotations={CAPTURE_HOLD_ANNOTATION: hold.annotation()}))
    assert body["status"]["pendingTask"]["operation"] == "power-on"
    assert "stoppedForCapture" not in body["status"]


def test_vms_that_both_claim_the_ecs_are_a_conflict_not_a_guess(harness: Harness) -> None:
    body = server()
    harness.fake.vms.add("copy-1", owner_uid=uid_of(body))
    harness.fake.vms.add("copy-2", owner_uid=uid_of(body))
    error, result = failed_pass(harness, body)
    assert isinstance(error, Conflict)
    assert reason(result.status, "Provisioned") == "IdentityConflict"
    assert result.failed and result.delay == 2.0
    assert writes(harness) == []


def test_a_backend_error_is_reported_and_retried_after_its_backoff(harness: Harness) -> None:
    body = server()
    harness.fake.fail_next("vms.create", Unreachable("vCenter did not answer"))
    _, result = failed_pass(harness, body)
    assert reason(result.status, "Provisioned") == "Unreachable"
    assert result.delay == 2.0
    again = server_failed(harness.runtime, body, Unreachable("still down"))
    assert again.delay is not None and again.delay <= 2.0  # woken early: the backoff does not grow
    harness.runtime.backoff.retry_at[uid_of(body)] = 0.0
    body, _ = harness.sync(body)
    assert harness.fake.calls.count("vms.create") == 2
    assert body["status"]["pendingTask"]["operation"] == "create"
    body, _ = follow(harness, body)
    assert condition(body["status"], "Ready")["status"] == "True"  # settled: the backoff starts afresh
    harness.fake.vms.drift(body["status"]["managedObjectID"], power=PowerState.OFF)
    harness.fake.fail_next("inventory.refresh", Unreachable("down again"))
    _, later = failed_pass(harness, body)
    assert later.delay == 2.0
