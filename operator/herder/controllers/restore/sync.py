"""One pass over one ServerSnapshotRestore: carry out its planner's step (herder.reconcile.restore).

The server's own controller stands still while the restore holds it (reason Restoring), and says so with
status.restoring once no task of its own is in flight: only then does the revert start. The revert task and the
power change after it are recorded in status.pendingTask and followed after a restart, never started twice.

`gather` and `decide` are the pass up to its plan, through the provider's reads only: herder plan runs the very
same two on a read-only provider. The revert and the power change are Events, in the words herder plan uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herder.api import RestorePhase, ServerSnapshotRestore
from herder.controllers.shared.daemon import Notice, Pass
from herder.controllers.shared.indexes import Lookups, zone_and_reads
from herder.controllers.shared.runtime import Backends, Runtime
from herder.controllers.shared.status import new_status
from herder.controllers.shared.tasks import follow_delay
from herder.controllers.snapshot.views import server_topic, snapshot_topic
from herder.errors import HerderError, NotFound
from herder.providers.types import ObservedVM, Operation, TaskRef, TaskResult
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.narrate import restore_powered, reverted
from herder.reconcile.restore import Plan, Recorded, SnapshotView, Step, plan
from herder.reconcile.snapshot import ServerView

log = logging.getLogger(__name__)
KIND = "ServerSnapshotRestore"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recorded_of(restore: ServerSnapshotRestore) -> Recorded:
    task = restore.status.pending_task
    return Recorded(restore.status.phase or RestorePhase.PENDING,
                    TaskRef(task.id, Operation(task.operation)) if task else None)


def _started_at(restore: ServerSnapshotRestore, pending: TaskRef) -> tuple[str, float]:
    recorded = restore.status.pending_task
    if recorded is not None and recorded.id == pending.id:
        return (recorded.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                (datetime.now(UTC) - recorded.started_at).total_seconds())
    return _now(), 0.0


@dataclass(frozen=True)
class Inputs:
    """What one pass plans from: the restore, its snapshot and server (from the indexes) and, where the pass needs
    the backend, the task it follows and the server's VM."""

    restore: ServerSnapshotRestore
    recorded: Recorded
    snapshot: SnapshotView | None
    server_name: str | None
    server: ServerView | None
    provider: tuple[str, str] | None = None  # (kind, name) of the server's backend, once looked at
    task: TaskResult | None = None
    vm: ObservedVM | None = None


def _server_name(restore: ServerSnapshotRestore, snapshot: SnapshotView | None) -> str | None:
    """The server it restores: the one it recorded, else its snapshot's."""
    return restore.status.server or (snapshot.server if snapshot else None)


def gather(backends: Backends, restore: ServerSnapshotRestore, lookups: Lookups) -> Inputs:
    """The restore's snapshot and server, and the backend's view when the pass needs it (to revert, to power, to
    follow a task), through reads only. Raises HerderError (NotFound: the server went during the restore)."""
    namespace, uid = restore.metadata.namespace or "", restore.metadata.uid or ""
    recorded = recorded_of(restore)
    snapshot = lookups.snapshot(namespace, restore.spec.snapshot)
    server_name = _server_name(restore, snapshot)
    server = lookups.server(namespace, server_name) if server_name else None
    first = plan(uid, recorded, None, snapshot=snapshot, server=server, power=None, wanted=restore.spec.power_state)
    needs_backend = recorded.pending_task is not None or first.step in {Step.REVERT, Step.POWER} or \
        first.phase is RestorePhase.POWERING
    if not needs_backend:
        return Inputs(restore, recorded, snapshot, server_name, server)
    if server is None:
        raise NotFound(f"ElasticCloudServer {server_name} went away during the restore")
    zone, reads = zone_and_reads(backends, lookups, server.zone or "")
    task = None
    if recorded.pending_task is not None:
        follow = reads.snapshots.task if recorded.pending_task.operation is Operation.REVERT else reads.vms.task
        task = follow(recorded.pending_task)
    return Inputs(restore, recorded, snapshot, server_name, server,
                  (zone.spec.provider.kind.value, zone.spec.provider.name), task,
                  reads.vms.find(server.uid, server.ref))


def decide(inputs: Inputs) -> Plan:
    vm = inputs.vm
    return plan(inputs.restore.metadata.uid or "", inputs.recorded, inputs.task, snapshot=inputs.snapshot,
                server=inputs.server, power=vm.power if vm else None, wanted=inputs.restore.spec.power_state)


def sync_restore(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    restore = ServerSnapshotRestore.model_validate(body)
    namespace, uid = restore.metadata.namespace or "", restore.metadata.uid or ""
    status = body.get("status") or {}
    if (restore.status.phase or RestorePhase.PENDING).terminal:
        return Pass(dict(status), None)  # final: nothing is planned after it
    server_name = _server_name(restore, lookups.snapshot(namespace, restore.spec.snapshot))
    runtime.follow(uid, (snapshot_topic(namespace, restore.spec.snapshot),
                         *((server_topic(namespace, server_name),) if server_name else ())))
    inputs = gather(runtime, restore, lookups)
    recorded, server, snapshot, vm = inputs.recorded, inputs.server, inputs.snapshot, inputs.vm
    p = decide(inputs)
    pending = None if p.forget_task else recorded.pending_task
    notices: tuple[Notice, ...] = ()
    if inputs.provider is not None and server is not None and vm is not None:
        provider = runtime.ready_provider(*inputs.provider).provider
        if p.step is Step.REVERT and snapshot is not None and snapshot.unique_id:
            log.info("ServerSnapshotRestore %s/%s: reverting %s to %s", namespace, restore.metadata.name,
                     server.name, snapshot.name)
            pending = provider.snapshots.revert(vm, snapshot.unique_id)
            said = reverted(server.name, vm, snapshot.name, snapshot.unique_id)
            notices = (Notice("Normal", said.do, said.summary),)
        elif p.step is Step.POWER and p.power is not None:
            started = provider.vms.set_power(vm, p.power)
            pending = None if started.finished else started
            said = restore_powered(server.name, vm.power, p.power)
            notices = (Notice("Normal", said.do, said.summary),)
    fields: dict[str, Any] = {"phase": p.phase.value, "server": inputs.server_name}
    delay: float | None = None
    if pending is not None:
        started_at, age = _started_at(restore, pending)
        fields["pendingTask"] = {"id": pending.id, "operation": pending.operation, "startedAt": started_at}
        delay = follow_delay(age)
    else:
        fields["pendingTask"] = None
        if p.phase is not recorded.phase and not p.phase.terminal and p.phase is not RestorePhase.HOLDING:
            delay = 0.0  # the next step is ours to take now
    if p.phase.terminal:
        fields["completionTime"] = _now()
        runtime.backoff.succeeded(uid)
    return Pass(new_status(status, [p.ready], restore.metadata.generation or 0, fields), delay, notices=notices)


def restore_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    """A snapshot or VM that is gone ends the restore (Failed); anything else is retried, in the same phase."""
    restore = ServerSnapshotRestore.model_validate(body)
    uid = restore.metadata.uid or ""
    status = body.get("status") or {}
    log.info("ServerSnapshotRestore %s/%s: %s: %s", restore.metadata.namespace, restore.metadata.name, exc.reason,
             exc)
    if isinstance(exc, NotFound) and (restore.status.phase or RestorePhase.PENDING).holds_server:
        failed = Condition(READY, False, Reason.FAILED, str(exc))
        return Pass(new_status(status, [failed], restore.metadata.generation or 0,
                               {"phase": RestorePhase.FAILED.value, "pendingTask": None,
                                "completionTime": _now()}), None, failed=True)
    waiting = exc.reason.final or exc.reason.awaits_dependency
    delay = None if waiting else runtime.backoff.retry(uid)[0]
    failure = Condition(READY, False, exc.reason, str(exc))
    return Pass(new_status(status, [failure], restore.metadata.generation or 0, {}), delay, failed=True)
