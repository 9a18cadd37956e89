"""Decisions for one ServerSnapshotRestore: a one-shot revert of a server to a snapshot. Pure: no I/O, no clock.

Phases (`RestorePhase`): Pending (the snapshot must exist and be ready, the server must have its VM) ->
Holding (the server is asked to stand still and answers, once no task of its own is in flight, with its
go-ahead: its status.restoring names this restore) -> Reverting (the revert task) -> Powering (to
spec.powerState, when set) -> Completed. A failed task ends it: Failed. Both ends are final: nothing is
planned after them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from herder.api.ecs import PowerState
from herder.api.restore import RestorePhase
from herder.providers.types import Operation, TaskRef, TaskResult, TaskStatus
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.snapshot import ServerView


class Step(enum.StrEnum):
    NONE = "None"
    WAIT = "Wait"  # a task is in flight, or the server's go-ahead has not come yet
    REVERT = "Revert"
    POWER = "Power"


@dataclass(frozen=True)
class SnapshotView:
    """What a restore sees of its ServerSnapshot."""

    name: str
    server: str
    ready_to_use: bool
    unique_id: str | None
    server_unique_id: str | None
    reason: str = ""  # its Ready reason and message, to say why it is not ready
    message: str = ""


@dataclass(frozen=True)
class Recorded:
    phase: RestorePhase = RestorePhase.PENDING
    pending_task: TaskRef | None = None


@dataclass(frozen=True)
class Plan:
    step: Step
    phase: RestorePhase
    ready: Condition
    power: PowerState | None = None
    forget_task: bool = False


def _restoring(message: str) -> Condition:
    return Condition(READY, False, Reason.RESTORING, message)


def _failed(message: str) -> Plan:
    return Plan(Step.NONE, RestorePhase.FAILED, Condition(READY, False, Reason.FAILED, message), forget_task=True)


def plan(uid: str, recorded: Recorded, task: TaskResult | None, *, snapshot: SnapshotView | None,
         server: ServerView | None, power: PowerState | None, wanted: PowerState | None) -> Plan:
    """`uid`: the restore's own; `power`: the VM's power state now (None: not known); `wanted`: spec.powerState."""
    phase = recorded.phase
    pending = recorded.pending_task
    if pending is not None and task is not None:
        if task.status is TaskStatus.RUNNING:
            doing = "reverting to the snapshot" if pending.operation is Operation.REVERT else f"powering {wanted}"
            return Plan(Step.WAIT, phase, _restoring(f"{doing} (task {pending.id})"))
        if task.status is TaskStatus.FAILED:
            return _failed(f"the {pending.operation} task {pending.id} failed: {task.error or 'no reason given'}")
        # Succeeded, or no longer known to the backend: that step is behind us.
        phase = RestorePhase.POWERING if pending.operation is Operation.REVERT else RestorePhase.COMPLETED
    forget_task = pending is not None
    if phase is RestorePhase.COMPLETED:
        return _completed(wanted, forget_task)
    if phase is RestorePhase.POWERING:
        if wanted is not None and power is not None and power is not wanted:
            return Plan(Step.POWER, phase, _restoring(f"reverted; powering {wanted}"), power=wanted,
                        forget_task=forget_task)
        return _completed(wanted, forget_task)
    if phase is RestorePhase.REVERTING:  # its task is gone from status: it ran
        return Plan(Step.NONE, RestorePhase.POWERING, _restoring("reverted"), forget_task=forget_task)
    if phase is RestorePhase.PENDING:
        waiting = _waiting(snapshot, server)
        if waiting is not None:
            return Plan(Step.NONE, phase, waiting, forget_task=forget_task)
        target = snapshot.server if snapshot is not None else "the server"
        return Plan(Step.NONE, RestorePhase.HOLDING, _restoring(f"waiting for {target} to finish what it is doing"),
                    forget_task=forget_task)
    # Holding: once the server stands still, the revert goes ahead (or fails on the backend).
    if server is not None and server.restoring == uid:
        return Plan(Step.REVERT, RestorePhase.REVERTING, _restoring("reverting to the snapshot"),
                    forget_task=forget_task)
    if server is None:
        return _failed("the ElasticCloudServer went away before the revert started")
    return Plan(Step.WAIT, phase, _restoring(f"waiting for {server.name} to finish what it is doing"),
                forget_task=forget_task)


def _completed(wanted: PowerState | None, forget_task: bool) -> Plan:
    then = f", then powered {wanted}" if wanted is not None else ""
    return Plan(Step.NONE, RestorePhase.COMPLETED, Condition(READY, True, Reason.RESTORED,
                                                             f"reverted to the snapshot{then}"),
                forget_task=forget_task)


def _waiting(snapshot: SnapshotView | None, server: ServerView | None) -> Condition | None:
    """Why the restore cannot start yet; None when it can."""
    if snapshot is None:
        return Condition(READY, False, Reason.SNAPSHOT_NOT_FOUND, "the ServerSnapshot does not exist")
    if not snapshot.ready_to_use or not snapshot.unique_id:
        why = f": {snapshot.reason}: {snapshot.message}" if snapshot.reason else ""
        return Condition(READY, False, Reason.SNAPSHOT_NOT_READY, f"ServerSnapshot {snapshot.name} is not ready to "
                         f"use{why}")
    if server is None or server.deleting or server.unique_id != snapshot.server_unique_id:
        return Condition(READY, False, Reason.SNAPSHOT_NOT_READY, f"ServerSnapshot {snapshot.name}'s server "
                         f"{snapshot.server} is gone")
    if server.paused:
        return Condition(READY, False, Reason.PAUSED, f"ElasticCloudServer {server.name} is paused "
                         "(herder.dev/paused): not restored until it is resumed")
    return None
