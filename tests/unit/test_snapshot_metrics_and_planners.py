"""The snapshot age gauge (ages taken at scrape time from the clock, none for a suspended schedule), and the
snapshot and restore planners' decisions that the sync tests do not reach."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from herder.api import RestorePhase
from herder.api.ecs import PowerState
from herder.metrics import SnapshotAges
from herder.providers.types import Operation, TaskRef, TaskResult, TaskStatus
from herder.reasons import Reason
from herder.reconcile import restore, snapshot

SERVER = snapshot.ServerView(uid="u", name="web", unique_id="vm-1", ref="vm-1", zone="z")
SNAP = restore.SnapshotView(name="s1", server="web", ready_to_use=True, unique_id="snapshot-1",
                            server_unique_id="vm-1")


def test_the_age_gauge_runs_with_the_clock_and_a_suspended_schedule_has_none() -> None:
    now = [1000.0]
    ages = SnapshotAges(lambda: now[0])
    registry = CollectorRegistry()
    registry.register(ages)
    ages.record_schedule(("team-a", "nightly"), 3600.0, {"web": 400.0})
    ages.record_schedule(("team-a", "paused"), None, {"db": 0.0})
    now[0] = 2000.0
    text = generate_latest(registry).decode()
    assert 'herder_snapshot_age_seconds{namespace="team-a",schedule="nightly",server="web"} 1600.0' in text
    assert 'herder_snapshot_schedule_interval_seconds{namespace="team-a",schedule="nightly"} 3600.0' in text
    assert "paused" not in text
    ages.forget_schedule(("team-a", "nightly"))
    assert "nightly" not in generate_latest(registry).decode()


def test_a_snapshot_of_a_server_whose_vm_is_not_found_waits_instead_of_taking_one() -> None:
    p = snapshot.plan(SERVER, snapshot.Recorded(), None, snapshot.Observed(vm_exists=False))
    assert p.step is snapshot.Step.NONE and p.ready.reason is Reason.SERVER_NOT_READY


def test_a_recreated_server_leaves_the_old_snapshot_server_gone() -> None:
    recorded = snapshot.Recorded(unique_id="snapshot-1", server_unique_id="vm-old")
    p = snapshot.plan(SERVER, recorded, None, snapshot.Observed())
    assert p.ready.reason is Reason.SERVER_GONE and p.step is snapshot.Step.NONE


def test_a_busy_server_is_not_snapshotted() -> None:
    busy = snapshot.ServerView(uid="u", name="web", unique_id="vm-1", busy=True)
    assert snapshot.plan(busy, snapshot.Recorded(), None, snapshot.Observed()).ready.reason is Reason.SERVER_BUSY


def test_a_failed_revert_is_final() -> None:
    recorded = restore.Recorded(RestorePhase.REVERTING, TaskRef("task-9", Operation.REVERT))
    p = restore.plan("r", recorded, TaskResult(TaskStatus.FAILED, error="disk locked"), snapshot=SNAP,
                     server=SERVER, power=PowerState.ON, wanted=None)
    assert p.phase is RestorePhase.FAILED and p.ready.reason is Reason.FAILED and "disk locked" in p.ready.message
    assert p.forget_task and Reason.FAILED.final


def test_a_revert_forgotten_by_the_backend_counts_as_done() -> None:
    recorded = restore.Recorded(RestorePhase.REVERTING, TaskRef("task-9", Operation.REVERT))
    p = restore.plan("r", recorded, TaskResult(TaskStatus.UNKNOWN), snapshot=SNAP, server=SERVER,
                     power=PowerState.OFF, wanted=PowerState.ON)
    assert p.step is restore.Step.POWER and p.power is PowerState.ON and p.phase is RestorePhase.POWERING


def test_holding_waits_for_the_go_ahead_of_this_restore_only() -> None:
    holding = restore.Recorded(RestorePhase.HOLDING)
    other = snapshot.ServerView(uid="u", name="web", unique_id="vm-1", restoring="another-restore")
    assert restore.plan("r", holding, None, snapshot=SNAP, server=other, power=None,
                        wanted=None).step is restore.Step.WAIT
    mine = snapshot.ServerView(uid="u", name="web", unique_id="vm-1", restoring="r")
    assert restore.plan("r", holding, None, snapshot=SNAP, server=mine, power=None,
                        wanted=None).step is restore.Step.REVERT


def test_a_snapshot_of_another_vm_cannot_be_restored() -> None:
    other_vm = snapshot.ServerView(uid="u", name="web", unique_id="vm-2")
    p = restore.plan("r", restore.Recorded(), None, snapshot=SNAP, server=other_vm, power=None, wanted=None)
    assert p.phase is RestorePhase.PENDING and p.ready.reason is Reason.SNAPSHOT_NOT_READY
