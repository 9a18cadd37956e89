"""Decisions for one ServerSnapshot: its server, what status recorded and what the backend shows -> the next
step. Pure: no I/O, no clock.

A snapshot is taken once. A snapshot that was taken and is no longer on the backend is never taken again: it
is `ServerGone` when its server went (the VM's deletion removed it) and `Lost` when someone removed it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from herder.providers.types import ObservedSnapshot, TaskRef, TaskResult, TaskStatus
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition


@dataclass(frozen=True)
class ServerView:
    """What snapshots, restores and schedules see of an ElasticCloudServer (an index of them by name)."""

    uid: str
    name: str
    unique_id: str | None = None  # its VM (status.uniqueID): none until it is created
    ref: str | None = None  # status.managedObjectID
    zone: str | None = None
    paused: bool = False
    deleting: bool = False
    busy: bool = False  # a task of its own is in flight
    restoring: str | None = None  # status.restoring: the restore it stands still for
    labels: tuple[tuple[str, str], ...] = ()


class Step(enum.StrEnum):
    NONE = "None"
    WAIT = "Wait"  # a task is in flight: follow it
    CREATE = "Create"


@dataclass(frozen=True)
class Recorded:
    unique_id: str | None = None
    server_unique_id: str | None = None
    pending_task: TaskRef | None = None


@dataclass(frozen=True)
class Observed:
    """What herder saw of the snapshot on the backend."""

    present: bool = False  # the VM still has it (from the inventory, or read just now)
    details: ObservedSnapshot | None = None  # read just now
    vm_exists: bool = True  # the server's VM was there when herder looked


@dataclass(frozen=True)
class Plan:
    step: Step
    ready: Condition
    ready_to_use: bool = False
    forget_task: bool = False
    found: ObservedSnapshot | None = None  # to record
    failed: bool = False  # a failure retried with backoff


def _taking(message: str) -> Condition:
    return Condition(READY, False, Reason.TAKING_SNAPSHOT, message)


def plan(server: ServerView | None, recorded: Recorded, task: TaskResult | None = None,
         observed: Observed | None = None) -> Plan:
    """`observed`: None when herder did not look at the backend (nothing there to look at yet)."""
    seen = observed or Observed()
    forget_task = recorded.pending_task is not None
    if recorded.pending_task is not None and task is not None:
        if task.status is TaskStatus.RUNNING:
            return Plan(Step.WAIT, _taking(f"taking the snapshot (task {recorded.pending_task.id})"))
        if task.status is TaskStatus.FAILED:
            return Plan(Step.NONE, Condition(READY, False, Reason.SNAPSHOT_FAILED,
                                             f"the snapshot task {recorded.pending_task.id} failed: "
                                             f"{task.error or 'no reason given'}; retried with backoff"),
                        forget_task=True, failed=True)
    if seen.present:
        found = seen.details
        what = f"snapshot {found.name} ({found.unique_id})" if found else f"snapshot {recorded.unique_id}"
        return Plan(Step.NONE, Condition(READY, True, Reason.READY, what), ready_to_use=True, forget_task=forget_task,
                    found=found)
    if recorded.unique_id:
        gone = server is None or server.unique_id != recorded.server_unique_id or not seen.vm_exists
        if gone:
            name = server.name if server is not None else "its server"
            return Plan(Step.NONE, Condition(READY, False, Reason.SERVER_GONE,
                                             f"{name}'s VM {recorded.server_unique_id} is gone, and its snapshots "
                                             "with it"), forget_task=forget_task)
        return Plan(Step.NONE, Condition(READY, False, Reason.LOST,
                                         f"snapshot {recorded.unique_id} was removed outside herder; herder does "
                                         "not take it again (delete this object, or create a new one)"),
                    forget_task=forget_task)
    if server is None:
        return Plan(Step.NONE, Condition(READY, False, Reason.WAITING_FOR_SERVER,
                                         "the ElasticCloudServer does not exist (yet)"), forget_task=forget_task)
    if server.deleting:
        return Plan(Step.NONE, Condition(READY, False, Reason.WAITING_FOR_SERVER,
                                         f"ElasticCloudServer {server.name} is being deleted"), forget_task=forget_task)
    if server.paused:
        return Plan(Step.NONE, Condition(READY, False, Reason.PAUSED,
                                         f"ElasticCloudServer {server.name} is paused (herder.dev/paused): not "
                                         "snapshotted until it is resumed"), forget_task=forget_task)
    if not server.unique_id:
        return Plan(Step.NONE, Condition(READY, False, Reason.SERVER_NOT_READY,
                                         f"ElasticCloudServer {server.name} has no VM yet"), forget_task=forget_task)
    if not seen.vm_exists:
        return Plan(Step.NONE, Condition(READY, False, Reason.SERVER_NOT_READY,
                                         f"the VM of ElasticCloudServer {server.name} is not on the backend"),
                    forget_task=forget_task)
    if server.busy or server.restoring:
        return Plan(Step.NONE, Condition(READY, False, Reason.SERVER_BUSY,
                                         f"ElasticCloudServer {server.name} is "
                                         + ("being restored" if server.restoring else "busy with a task")),
                    forget_task=forget_task)
    return Plan(Step.CREATE, _taking(f"taking a snapshot of {server.name}"), forget_task=forget_task)
