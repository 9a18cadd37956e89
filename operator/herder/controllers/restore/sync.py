"""One pass over one ServerSnapshotRestore: carry out its planner's step (herder.reconcile.restore).

The server's own controller stands still while the restore holds it (reason Restoring), and says so with
status.restoring once no task of its own is in flight: only then does the revert start. The revert task and the
power change after it are recorded in status.pendingTask and followed after a restart, never started twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from herder.api import RestorePhase, ServerSnapshotRestore
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups, zone_and_provider
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import new_status
from herder.controllers.shared.tasks import follow_delay
from herder.controllers.snapshot.views import server_topic, snapshot_topic
from herder.errors import HerderError, NotFound
from herder.providers.types import Operation, TaskRef, TaskResult
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.restore import Recorded, Step, plan

log = logging.getLogger(__name__)
KIND = "ServerSnapshotRestore"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recorded(restore: ServerSnapshotRestore) -> Recorded:
    task = restore.status.pending_task
    return Recorded(restore.status.phase or RestorePhase.PENDING,
                    TaskRef(task.id, Operation(task.operation)) if task else None)


def _started_at(restore: ServerSnapshotRestore, pending: TaskRef) -> tuple[str, float]:
    recorded = restore.status.pending_task
    if recorded is not None and recorded.id == pending.id:
        return (recorded.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                (datetime.now(UTC) - recorded.started_at).total_seconds())
    return _now(), 0.0


def sync_restore(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    restore = ServerSnapshotRestore.model_validate(body)
    namespace, uid = restore.metadata.namespace or "", restore.metadata.uid or ""
    recorded = _recorded(restore)
    status = body.get("status") or {}
    if recorded.phase.terminal:
        return Pass(dict(status), None)  # final: nothing is planned after it
    snapshot = lookups.snapshot(namespace, restore.spec.snapshot)
    server_name = restore.status.server or (snapshot.server if snapshot else None)
    server = lookups.server(namespace, server_name) if server_name else None
    runtime.follow(uid, (snapshot_topic(namespace, restore.spec.snapshot),
                         *((server_topic(namespace, server_name),) if server_name else ())))
    wanted = restore.spec.power_state
    p = plan(uid, recorded, None, snapshot=snapshot, server=server, power=None, wanted=wanted)
    pending = None if p.forget_task else recorded.pending_task
    needs_backend = recorded.pending_task is not None or p.step in {Step.REVERT, Step.POWER} or \
        p.phase is RestorePhase.POWERING
    if needs_backend and server is None:
        raise NotFound(f"ElasticCloudServer {server_name} went away during the restore")
    if needs_backend and server is not None:
        _, handle = zone_and_provider(runtime, lookups, server.zone or "")
        provider = handle.provider
        task: TaskResult | None = None
        if recorded.pending_task is not None:
            follow = provider.snapshots.task if recorded.pending_task.operation is Operation.REVERT \
                else provider.vms.task
            task = follow(recorded.pending_task)
        vm = provider.vms.find(server.uid, server.ref)
        p = plan(uid, recorded, task, snapshot=snapshot, server=server, power=vm.power if vm else None,
                 wanted=wanted)
        pending = None if p.forget_task else recorded.pending_task
        if p.step is Step.REVERT and vm is not None and snapshot is not None and snapshot.unique_id:
            log.info("ServerSnapshotRestore %s/%s: reverting %s to %s", namespace, restore.metadata.name,
                     server.name, snapshot.name)
            pending = provider.snapshots.revert(vm, snapshot.unique_id)
        elif p.step is Step.POWER and vm is not None and p.power is not None:
            started = provider.vms.set_power(vm, p.power)
            pending = None if started.finished else started
    fields: dict[str, Any] = {"phase": p.phase.value, "server": server_name}
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
    return Pass(new_status(status, [p.ready], restore.metadata.generation or 0, fields), delay)


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
