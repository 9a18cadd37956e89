"""ServerSnapshot and ServerSnapshotRestore sync passes against the fake provider: a snapshot is taken once and
found again after a crash, reported Lost or ServerGone instead of taken again, waits for a missing or paused
server; deletion removes or orphans it; a restore holds its server still, reverts once and ends for good; the
ECS stands still meanwhile and says when the revert left it off its spec."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.harness import (
    NAMESPACE,
    Body,
    Harness,
    advance,
    changed,
    condition,
    reason,
    server,
    server_snapshot,
    snapshot_restore,
)
from herder.api.annotations import PAUSED_ANNOTATION
from herder.api.ecs import PowerState
from herder.controllers.ecs.sync import sync_server
from herder.controllers.restore.delete import delete_restore
from herder.controllers.restore.sync import restore_failed, sync_restore
from herder.controllers.snapshot.delete import delete_snapshot
from herder.controllers.snapshot.sync import snapshot_failed, sync_snapshot
from herder.errors import HerderError, NotFound
from herder.providers.types import ObservedVM, Operation

SNAPSHOT_WRITES = {"snapshots.create", "snapshots.revert", "snapshots.remove"}


def snap_pass(harness: Harness, body: Body) -> Body:
    result = sync_snapshot(harness.runtime, body, harness.lookups)
    return harness.index(advance(body, result))


def restore_pass(harness: Harness, body: Body) -> Body:
    return advance(body, sync_restore(harness.runtime, body, harness.lookups))


def ecs_pass(harness: Harness, body: Body) -> Body:
    body, _ = harness.sync(body)
    return harness.index(body)


def writes(harness: Harness) -> list[str]:
    return [c for c in harness.fake.calls if c in SNAPSHOT_WRITES]


def running_server(harness: Harness, **spec: Any) -> tuple[Body, ObservedVM]:
    body, vm = harness.provision(server(**spec))
    harness.index(body)
    return body, vm


def taken(harness: Harness, snap: Body) -> Body:
    """A snapshot taken: its task ended and recorded."""
    snap = snap_pass(harness, snap)
    harness.fake.tasks.succeed(snap["status"]["pendingTask"]["id"])
    return snap_pass(harness, snap)


def test_a_snapshot_is_taken_once_and_then_costs_no_backend_call(harness: Harness) -> None:
    _, vm = running_server(harness)
    snap = snap_pass(harness, server_snapshot("s1", description="before"))
    assert reason(snap["status"]) == "TakingSnapshot" and snap["status"]["pendingTask"]["operation"] == "snapshot"
    assert writes(harness) == ["snapshots.create"]
    harness.fake.tasks.succeed(snap["status"]["pendingTask"]["id"])
    snap = snap_pass(harness, snap)
    status = snap["status"]
    (backend,) = harness.fake.snapshots.of(vm.ref)
    assert (status["uniqueID"], status["serverUniqueID"], status["readyToUse"]) == (backend.unique_id, vm.unique_id,
                                                                                     True)
    assert status["provider"] == {"kind": "VCenter", "name": "vcsim"} and status["size"] == "1024"
    assert reason(status) == "Ready" and "pendingTask" not in status
    assert snap["metadata"]["uid"] in backend.name and backend.owner_uid == snap["metadata"]["uid"]
    harness.fake.calls.clear()
    snap_pass(harness, snap)
    assert harness.fake.calls == [], "a snapshot the inventory lists costs nothing"


def test_a_snapshot_taken_before_a_crash_is_found_not_taken_again(harness: Harness) -> None:
    running_server(harness)
    first = snap_pass(harness, server_snapshot("s1"))
    harness.fake.tasks.succeed(first["status"]["pendingTask"]["id"])
    # The pass that started it never wrote its status (killed): the next one starts from nothing.
    again = snap_pass(harness, server_snapshot("s1") | {"metadata": first["metadata"]})
    again = snap_pass(harness, again)
    assert writes(harness) == ["snapshots.create"], "exactly one snapshot"
    assert again["status"]["readyToUse"] is True


def test_a_snapshot_task_in_flight_at_a_crash_is_followed(harness: Harness) -> None:
    _, vm = running_server(harness)
    first = snap_pass(harness, server_snapshot("s1"))
    blank = server_snapshot("s1") | {"metadata": first["metadata"]}
    again = snap_pass(harness, blank)  # the task still runs: the create call follows it
    assert again["status"]["pendingTask"]["id"] == first["status"]["pendingTask"]["id"]
    harness.fake.tasks.succeed(again["status"]["pendingTask"]["id"])
    assert snap_pass(harness, again)["status"]["readyToUse"] is True
    assert len(harness.fake.snapshots.of(vm.ref)) == 1


def test_a_failed_snapshot_is_retried_with_backoff(harness: Harness) -> None:
    running_server(harness)
    snap = snap_pass(harness, server_snapshot("s1"))
    harness.fake.tasks.fail(snap["status"]["pendingTask"]["id"], "quiescing failed")
    result = sync_snapshot(harness.runtime, snap, harness.lookups)
    assert result.failed and result.delay == 2.0
    assert "quiescing failed" in condition(result.status, "Ready")["message"]
    assert condition(result.status, "Ready")["reason"] == "SnapshotFailed"


def test_a_snapshot_removed_by_hand_is_lost_and_not_taken_again(harness: Harness) -> None:
    _, vm = running_server(harness)
    snap = taken(harness, server_snapshot("s1"))
    harness.fake.snapshots.vanish(snap["status"]["uniqueID"])
    harness.fake.calls.clear()
    snap = snap_pass(harness, snap)
    assert reason(snap["status"]) == "Lost" and snap["status"]["readyToUse"] is False
    assert condition(snap["status"], "Stalled")["status"] == "True"
    assert writes(harness) == [] and harness.fake.snapshots.of(vm.ref) == []


def test_a_stale_inventory_does_not_make_a_snapshot_lost(harness: Harness) -> None:
    running_server(harness)
    harness.fake.inventory.held = True  # the feed has not reported the new snapshot yet
    snap = taken(harness, server_snapshot("s1"))
    assert snap["status"]["readyToUse"] is True
    assert reason(snap_pass(harness, snap)["status"]) == "Ready"


def test_snapshots_of_a_deleted_server_report_server_gone(harness: Harness) -> None:
    ecs, vm = running_server(harness)
    snap = taken(harness, server_snapshot("s1"))
    harness.fake.vms.vanish(vm.ref)
    harness.unindex(ecs)
    harness.fake.calls.clear()
    snap = snap_pass(harness, snap)
    assert reason(snap["status"]) == "ServerGone" and harness.fake.calls == []
    done = delete_snapshot(harness.runtime, snap, harness.lookups)
    assert done.done and "gone" in done.message


def test_a_snapshot_waits_for_its_server_its_vm_and_a_resume(harness: Harness) -> None:
    snap = snap_pass(harness, server_snapshot("s1", server_name="later"))
    assert reason(snap["status"]) == "WaitingForServer" and harness.fake.calls == []
    ecs = harness.index(server("later"))
    assert reason(snap_pass(harness, snap)["status"]) == "ServerNotReady", "no VM yet"
    ecs = ecs_pass(harness, ecs)
    harness.fake.tasks.succeed(ecs["status"]["pendingTask"]["id"])
    ecs = ecs_pass(harness, ecs)
    harness.index(changed(ecs, annotations={PAUSED_ANNOTATION: "true"}))
    paused = snap_pass(harness, snap)
    assert reason(paused["status"]) == "Paused" and "snapshots.create" not in harness.fake.calls
    harness.index(changed(ecs, annotations={PAUSED_ANNOTATION: "false"}))
    assert reason(snap_pass(harness, snap)["status"]) == "TakingSnapshot"


def test_memory_snapshots_are_refused_where_the_backend_has_none(harness: Harness) -> None:
    running_server(harness)
    harness.fake.snapshots.memory_supported = False
    body = server_snapshot("s1", memory=True)
    with pytest.raises(HerderError) as caught:
        sync_snapshot(harness.runtime, body, harness.lookups)
    result = snapshot_failed(harness.runtime, body, caught.value)
    assert condition(result.status, "Ready")["reason"] == "NotSupported"
    assert result.delay is None, "only a spec change helps: no retry on a timer"


def test_deletion_removes_the_snapshot_or_orphans_it(harness: Harness) -> None:
    _, vm = running_server(harness)
    removed = taken(harness, server_snapshot("s1"))
    kept = taken(harness, server_snapshot("s2", deletionPolicy="Orphan"))
    harness.fake.tasks.quick = True
    assert len(harness.fake.snapshots.of(vm.ref)) == 2
    assert delete_snapshot(harness.runtime, removed, harness.lookups).done
    assert delete_snapshot(harness.runtime, kept, harness.lookups).done
    assert [s.unique_id for s in harness.fake.snapshots.of(vm.ref)] == [kept["status"]["uniqueID"]]


def test_the_parent_is_the_snapshot_taken_before(harness: Harness) -> None:
    running_server(harness)
    first = taken(harness, server_snapshot("s1"))
    second = taken(harness, server_snapshot("s2"))
    assert second["status"]["parentUniqueID"] == first["status"]["uniqueID"]
    assert second["status"]["parentSnapshot"] == "s1"


# -- restores ----------------------------------------------------------------------------------------------------

def test_a_restore_holds_the_server_reverts_once_and_ends_for_good(harness: Harness) -> None:
    ecs, vm = running_server(harness, powerCyclePolicy="Automatic")
    taken(harness, server_snapshot("s1"))
    harness.fake.vms.drift(vm.ref, cpu=6)  # the VM changed since the snapshot (by hand)
    undo = restore_pass(harness, snapshot_restore("undo", "s1"))
    assert undo["status"]["phase"] == "Holding" and reason(undo["status"]) == "Restoring"
    harness.hold(ecs, undo)
    ecs = ecs_pass(harness, ecs)
    assert reason(ecs["status"]) == "Restoring" and ecs["status"]["restoring"] == undo["metadata"]["uid"]
    assert "vms.reconfigure" not in harness.fake.calls, "the server stands still"
    undo = restore_pass(harness, undo)
    assert undo["status"]["phase"] == "Reverting" and undo["status"]["pendingTask"]["operation"] == "revert"
    harness.fake.tasks.succeed(undo["status"]["pendingTask"]["id"])
    undo = restore_pass(harness, undo)
    undo = restore_pass(harness, undo) if undo["status"]["phase"] == "Powering" else undo
    assert undo["status"]["phase"] == "Completed" and reason(undo["status"]) == "Restored"
    assert harness.fake.calls.count("snapshots.revert") == 1
    current = harness.fake.vms.get(vm.ref)
    assert current is not None and current.cpu == 2 and current.power is PowerState.OFF  # no memory: off
    harness.hold(ecs, None)
    ecs = ecs_pass(harness, ecs)
    assert "restoring" not in ecs["status"] and ecs["status"]["pendingTask"]["operation"] in {"power-on",
                                                                                              "reconfigure"}
    harness.fake.calls.clear()
    assert restore_pass(harness, undo)["status"] == undo["status"] and harness.fake.calls == [], "final"
    assert delete_restore(harness.runtime, undo, harness.lookups).done


def test_a_restore_waits_for_the_servers_own_task_to_end(harness: Harness) -> None:
    ecs, _ = running_server(harness)
    taken(harness, server_snapshot("s1"))
    ecs = ecs_pass(harness, changed(ecs, powerState="Off"))
    assert ecs["status"]["pendingTask"]["operation"] == "power-off"
    undo = restore_pass(harness, snapshot_restore("undo", "s1"))
    harness.hold(ecs, undo)
    ecs = ecs_pass(harness, ecs)
    assert "restoring" not in ecs["status"], "no go-ahead while its power-off runs"
    undo = restore_pass(harness, undo)
    assert undo["status"]["phase"] == "Holding" and "snapshots.revert" not in harness.fake.calls
    harness.fake.tasks.succeed(ecs["status"]["pendingTask"]["id"])
    ecs = ecs_pass(harness, ecs)
    assert ecs["status"]["restoring"] == undo["metadata"]["uid"]
    assert restore_pass(harness, undo)["status"]["phase"] == "Reverting"


def test_a_revert_in_flight_at_a_crash_is_followed_not_repeated(harness: Harness) -> None:
    ecs, _ = running_server(harness)
    taken(harness, server_snapshot("s1"))
    undo = restore_pass(harness, snapshot_restore("undo", "s1", powerState="On"))
    harness.hold(ecs, undo)
    ecs_pass(harness, ecs)
    undo = restore_pass(harness, undo)
    harness.fake.calls.clear()
    again = restore_pass(harness, undo)  # after a restart: the recorded task is followed
    assert again["status"]["pendingTask"] == undo["status"]["pendingTask"] and writes(harness) == []
    harness.fake.tasks.succeed(undo["status"]["pendingTask"]["id"])
    powering = restore_pass(harness, again)
    assert powering["status"]["pendingTask"]["operation"] == Operation.POWER_ON
    harness.fake.tasks.succeed(powering["status"]["pendingTask"]["id"])
    assert restore_pass(harness, powering)["status"]["phase"] == "Completed"
    assert harness.fake.calls.count("snapshots.revert") == 0


def test_a_restore_of_a_missing_or_unready_snapshot_waits_with_the_reason(harness: Harness) -> None:
    running_server(harness)
    undo = restore_pass(harness, snapshot_restore("undo", "nothing"))
    assert reason(undo["status"]) == "SnapshotNotFound" and undo["status"]["phase"] == "Pending"
    snap_pass(harness, server_snapshot("nothing"))
    assert reason(restore_pass(harness, undo)["status"]) == "SnapshotNotReady"


def test_a_snapshot_gone_during_the_hold_fails_the_restore(harness: Harness) -> None:
    ecs, _ = running_server(harness)
    snap = taken(harness, server_snapshot("s1"))
    undo = restore_pass(harness, snapshot_restore("undo", "s1"))
    harness.hold(ecs, undo)
    ecs_pass(harness, ecs)
    harness.fake.snapshots.vanish(snap["status"]["uniqueID"])
    with pytest.raises(NotFound) as caught:
        sync_restore(harness.runtime, undo, harness.lookups)
    failed = advance(undo, restore_failed(harness.runtime, undo, caught.value))
    assert failed["status"]["phase"] == "Failed" and reason(failed["status"]) == "Failed"
    assert "no longer exists" in condition(failed["status"], "Ready")["message"]
    assert NAMESPACE in failed["metadata"]["namespace"]


def test_a_server_held_by_a_restore_reports_no_drift_when_the_revert_changes_its_vm(harness: Harness) -> None:
    """The revert is herder's own change, not one made out of band: no Drift Event while the restore holds the
    server (RevertedOffSpec says what differs once it ends)."""
    ecs, vm = running_server(harness)
    taken(harness, server_snapshot("s1"))  # without memory: a revert leaves the VM off
    undo = restore_pass(harness, snapshot_restore("undo", "s1"))
    harness.hold(ecs, undo)
    ecs = ecs_pass(harness, ecs)
    undo = restore_pass(harness, undo)
    harness.fake.tasks.succeed(undo["status"]["pendingTask"]["id"])
    assert (harness.fake.vms.get(vm.ref) or vm).power is PowerState.OFF and ecs["status"]["powerState"] == "On"
    result = sync_server(harness.runtime, ecs, harness.lookups)
    assert [n.reason for n in result.notices] == [], result.notices
    assert reason(result.status) == "Restoring"
