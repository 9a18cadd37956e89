"""One pass over one ServerSnapshot: its server from the index, the snapshot on the backend, the planner's step.

At steady state a pass costs no backend call: the inventory's view of the VM lists its snapshots. The backend
is read directly before a snapshot is taken (one taken before a crash is found, not taken twice), once the
snapshot task ends, and when the inventory no longer lists the snapshot (to tell Lost from a stale cache).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from herder import metrics
from herder.api import ServerSnapshot
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups, zone_and_provider
from herder.controllers.shared.runtime import ProviderHandle, Runtime, vm_topic
from herder.controllers.shared.status import new_status
from herder.controllers.shared.tasks import follow_delay
from herder.controllers.snapshot.views import server_topic
from herder.errors import HerderError, ProviderError
from herder.providers.types import ObservedSnapshot, ObservedVM, Operation, SnapshotSpec, TaskRef, TaskStatus
from herder.reconcile.conditions import Condition
from herder.reconcile.snapshot import Observed, Recorded, ServerView, Step, plan

log = logging.getLogger(__name__)
KIND = "ServerSnapshot"


def backend_of(kind: str) -> str:
    """The `backend` label of the snapshot metrics."""
    return "vcenter" if kind == "VCenter" else "scvmm"


def recorded_of(snap: ServerSnapshot) -> Recorded:
    task = snap.status.pending_task
    return Recorded(snap.status.unique_id, snap.status.server_unique_id,
                    TaskRef(task.id, Operation(task.operation)) if task else None)


def provider_for(runtime: Runtime, lookups: Lookups, snap: ServerSnapshot,
                 server: ServerView | None) -> tuple[ProviderHandle, tuple[str, str]]:
    """The backend the snapshot is (or is to be) on: the one it recorded, else its server's zone's."""
    recorded = snap.status.provider
    if recorded is not None:
        return runtime.ready_provider(recorded.kind.value, recorded.name), (recorded.kind.value, recorded.name)
    zone, handle = zone_and_provider(runtime, lookups, (server.zone if server else None) or "")
    return handle, (zone.spec.provider.kind.value, zone.spec.provider.name)


def find_vm(handle: ProviderHandle, server: ServerView | None, server_unique_id: str | None) -> ObservedVM | None:
    """The server's VM, read on the backend: by its ECS while it exists, else by the VM's own ID (an orphan)."""
    vms = handle.provider.vms
    if server is not None and server.unique_id and server.unique_id == (server_unique_id or server.unique_id):
        return vms.find(server.uid, server.ref)
    return vms.find_by_unique_id(server_unique_id) if server_unique_id else None


def _observe(handle: ProviderHandle, snap: ServerSnapshot, server: ServerView, recorded: Recorded,
             running: bool) -> tuple[Observed, ObservedVM | None]:
    if recorded.unique_id and not recorded.pending_task:
        cached = handle.provider.inventory.snapshot().get(server.unique_id or "")
        if cached is not None and recorded.unique_id in cached.snapshots:
            return Observed(present=True), cached
    if running:
        return Observed(), None
    vm = find_vm(handle, server, recorded.server_unique_id)
    details = handle.provider.snapshots.find(vm, snap.metadata.uid or "") if vm is not None else None
    return Observed(present=details is not None, details=details, vm_exists=vm is not None), vm


def _parent_name(lookups: Lookups, namespace: str, found: ObservedSnapshot) -> str | None:
    if not found.parent_id:
        return None
    for view in lookups.snapshots_in(namespace):
        if view.unique_id == found.parent_id:
            return view.name
    return None


def _found_fields(lookups: Lookups, namespace: str, found: ObservedSnapshot, server: ServerView) -> dict[str, Any]:
    return {"uniqueID": found.unique_id, "serverUniqueID": server.unique_id,
            "creationTime": found.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "size": str(found.size_bytes) if found.size_bytes else None, "parentUniqueID": found.parent_id,
            "parentSnapshot": _parent_name(lookups, namespace, found)}


def _started_at(snap: ServerSnapshot, pending: TaskRef) -> str:
    recorded = snap.status.pending_task
    if recorded is not None and recorded.id == pending.id:
        return recorded.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(snap: ServerSnapshot, pending: TaskRef) -> float:
    recorded = snap.status.pending_task
    if recorded is None or recorded.id != pending.id:
        return 0.0
    return (datetime.now(UTC) - recorded.started_at).total_seconds()


def sync_snapshot(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    snap = ServerSnapshot.model_validate(body)
    namespace, uid = snap.metadata.namespace or "", snap.metadata.uid or ""
    server = lookups.server(namespace, snap.spec.server)
    recorded = recorded_of(snap)
    vm_id = (server.unique_id if server else None) or recorded.server_unique_id
    runtime.follow(uid, (server_topic(namespace, snap.spec.server), *((vm_topic(vm_id),) if vm_id else ())))
    p = plan(server, recorded)  # what is decided without the backend
    fields: dict[str, Any] = {}
    pending = None if p.forget_task else recorded.pending_task
    backend: str | None = None
    if server is not None and (p.step is Step.CREATE or recorded.pending_task or
                               (recorded.unique_id and server.unique_id == recorded.server_unique_id)):
        handle, (kind, name) = provider_for(runtime, lookups, snap, server)
        backend = backend_of(kind)
        fields["provider"] = {"kind": kind, "name": name}
        task = handle.provider.snapshots.task(recorded.pending_task) if recorded.pending_task else None
        observed, vm = _observe(handle, snap, server, recorded, task is not None and
                                task.status is TaskStatus.RUNNING)
        p = plan(server, recorded, task, observed)
        pending = None if p.forget_task else recorded.pending_task
        if p.step is Step.CREATE and vm is not None:
            log.info("ServerSnapshot %s/%s: snapshotting %s", namespace, snap.metadata.name, server.name)
            started = handle.provider.snapshots.create(vm, SnapshotSpec(
                uid=uid, label=snap.metadata.name or uid, description=snap.spec.description,
                memory=snap.spec.memory, quiesce=snap.spec.quiesce))
            pending = None if started.finished else started
            fields["serverUniqueID"] = server.unique_id
        if p.found is not None:
            fields |= _found_fields(lookups, namespace, p.found, server)
            if not recorded.unique_id:
                metrics.SNAPSHOTS_TAKEN.labels(namespace=namespace, backend=backend).inc()
        if p.failed:
            metrics.SNAPSHOTS_FAILED.labels(namespace=namespace, backend=backend).inc()
    fields["readyToUse"] = p.ready_to_use
    fields["pendingTask"] = {"id": pending.id, "operation": pending.operation,
                             "startedAt": _started_at(snap, pending)} if pending else None
    if pending is not None:
        delay: float | None = follow_delay(_age(snap, pending))
    elif p.step is Step.CREATE:
        delay = 0.0  # it was there already: record it
    elif p.failed:
        delay, _ = runtime.backoff.retry(uid)
    else:
        runtime.backoff.succeeded(uid)
        delay = None
    return Pass(new_status(body.get("status") or {}, [p.ready], snap.metadata.generation or 0, fields), delay,
                failed=p.failed)


def snapshot_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    """A pass that could not finish: say why; wait for a change where only one helps, else retry with backoff."""
    snap = ServerSnapshot.model_validate(body)
    uid = snap.metadata.uid or ""
    waiting = exc.reason.final or exc.reason.awaits_dependency
    delay = None if waiting else runtime.backoff.retry(uid)[0]
    log.info("ServerSnapshot %s/%s: %s: %s", snap.metadata.namespace, snap.metadata.name, exc.reason, exc)
    if isinstance(exc, ProviderError) and snap.status.provider is not None:
        metrics.SNAPSHOTS_FAILED.labels(namespace=snap.metadata.namespace or "",
                                        backend=backend_of(snap.status.provider.kind.value)).inc()
    failure = Condition("Ready", False, exc.reason, str(exc))
    return Pass(new_status(body.get("status") or {}, [failure], snap.metadata.generation or 0, {}), delay,
                failed=True)
