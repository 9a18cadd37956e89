"""One pass over one ServerSnapshot: its server from the index, the snapshot on the backend, the planner's step.

At steady state a pass costs no backend call: the inventory's view of the VM lists its snapshots. The backend
is read directly before a snapshot is taken (one taken before a crash is found, not taken twice), once the
snapshot task ends, and when the inventory no longer lists the snapshot (to tell Lost from a stale cache).

`gather` and `decide` are the pass up to its plan, through the provider's reads only: herder plan runs the very
same two on a read-only provider. A snapshot taken is an Event, in the words herder plan uses for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herder import metrics
from herder.api import ServerSnapshot
from herder.controllers.shared.daemon import Notice, Pass
from herder.controllers.shared.indexes import Lookups, zone_and_reads
from herder.controllers.shared.runtime import Backends, Runtime, vm_topic
from herder.controllers.shared.status import new_status
from herder.controllers.shared.tasks import follow_delay
from herder.controllers.snapshot.views import server_topic
from herder.errors import HerderError, ProviderError
from herder.providers.base import ProviderReads
from herder.providers.types import (
    ObservedSnapshot,
    ObservedVM,
    Operation,
    SnapshotSpec,
    TaskRef,
    TaskResult,
    TaskStatus,
)
from herder.reconcile.conditions import Condition
from herder.reconcile.narrate import snapshot_taken
from herder.reconcile.snapshot import Observed, Plan, Recorded, ServerView, Step, plan

log = logging.getLogger(__name__)
KIND = "ServerSnapshot"


def backend_of(kind: str) -> str:
    """The `backend` label of the snapshot metrics."""
    return "vcenter" if kind == "VCenter" else "scvmm"


def recorded_of(snap: ServerSnapshot) -> Recorded:
    task = snap.status.pending_task
    return Recorded(snap.status.unique_id, snap.status.server_unique_id,
                    TaskRef(task.id, Operation(task.operation)) if task else None)


def provider_for(backends: Backends, lookups: Lookups, snap: ServerSnapshot,
                 server: ServerView | None) -> tuple[ProviderReads, tuple[str, str]]:
    """The backend the snapshot is (or is to be) on, its reads: the one it recorded, else its server's zone's."""
    recorded = snap.status.provider
    if recorded is not None:
        return backends.reads(recorded.kind.value, recorded.name), (recorded.kind.value, recorded.name)
    zone, reads = zone_and_reads(backends, lookups, (server.zone if server else None) or "")
    return reads, (zone.spec.provider.kind.value, zone.spec.provider.name)


def find_vm(reads: ProviderReads, server: ServerView | None, server_unique_id: str | None) -> ObservedVM | None:
    """The server's VM, read on the backend: by its ECS while it exists, else by the VM's own ID (an orphan)."""
    vms = reads.vms
    if server is not None and server.unique_id and server.unique_id == (server_unique_id or server.unique_id):
        return vms.find(server.uid, server.ref)
    return vms.find_by_unique_id(server_unique_id) if server_unique_id else None


def _observe(reads: ProviderReads, snap: ServerSnapshot, server: ServerView, recorded: Recorded,
             running: bool) -> tuple[Observed, ObservedVM | None]:
    if recorded.unique_id and not recorded.pending_task:
        cached = reads.inventory.snapshot().get(server.unique_id or "")
        if cached is not None and recorded.unique_id in cached.snapshots:
            return Observed(present=True), cached
    if running:
        return Observed(), None
    vm = find_vm(reads, server, recorded.server_unique_id)
    details = reads.snapshots.find(vm, snap.metadata.uid or "") if vm is not None else None
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


@dataclass(frozen=True)
class Inputs:
    """What one pass plans from: the snapshot, its server (from the index) and, where the pass needs the backend,
    the backend's answer."""

    snap: ServerSnapshot
    server: ServerView | None
    recorded: Recorded
    provider: tuple[str, str] | None = None  # (kind, name) of the backend it is (to be) on, once looked at
    task: TaskResult | None = None  # how the recorded task is going
    observed: Observed | None = None  # None: the backend was not looked at
    vm: ObservedVM | None = None  # the server's VM, where it was read


def gather(backends: Backends, snap: ServerSnapshot, lookups: Lookups) -> Inputs:
    """The snapshot's server, and the backend's view of the snapshot when the pass needs it (to take it, to follow
    its task, to confirm it is still there), through reads only. Raises HerderError when the backend fails."""
    server = lookups.server(snap.metadata.namespace or "", snap.spec.server)
    recorded = recorded_of(snap)
    first = plan(server, recorded)  # what is decided without the backend
    if server is None or not (first.step is Step.CREATE or recorded.pending_task or
                              (recorded.unique_id and server.unique_id == recorded.server_unique_id)):
        return Inputs(snap, server, recorded)
    reads, provider = provider_for(backends, lookups, snap, server)
    task = reads.snapshots.task(recorded.pending_task) if recorded.pending_task else None
    observed, vm = _observe(reads, snap, server, recorded, task is not None and task.status is TaskStatus.RUNNING)
    return Inputs(snap, server, recorded, provider, task, observed, vm)


def decide(inputs: Inputs) -> Plan:
    return plan(inputs.server, inputs.recorded, inputs.task, inputs.observed)


def sync_snapshot(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    snap = ServerSnapshot.model_validate(body)
    namespace, uid = snap.metadata.namespace or "", snap.metadata.uid or ""
    server = lookups.server(namespace, snap.spec.server)
    vm_id = (server.unique_id if server else None) or snap.status.server_unique_id
    runtime.follow(uid, (server_topic(namespace, snap.spec.server), *((vm_topic(vm_id),) if vm_id else ())))
    inputs = gather(runtime, snap, lookups)
    recorded, server = inputs.recorded, inputs.server
    p = decide(inputs)
    pending = None if p.forget_task else recorded.pending_task
    fields: dict[str, Any] = {}
    notices: tuple[Notice, ...] = ()
    if inputs.provider is not None and server is not None:
        kind, name = inputs.provider
        backend = backend_of(kind)
        fields["provider"] = {"kind": kind, "name": name}
        if p.step is Step.CREATE and inputs.vm is not None:
            log.info("ServerSnapshot %s/%s: snapshotting %s", namespace, snap.metadata.name, server.name)
            started = runtime.ready_provider(kind, name).provider.snapshots.create(inputs.vm, SnapshotSpec(
                uid=uid, label=snap.metadata.name or uid, description=snap.spec.description,
                memory=snap.spec.memory, quiesce=snap.spec.quiesce))
            pending = None if started.finished else started
            fields["serverUniqueID"] = server.unique_id
            said = snapshot_taken(server.name, inputs.vm, memory=snap.spec.memory, quiesce=snap.spec.quiesce)
            notices = (Notice("Normal", said.do, said.summary),)
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
                failed=p.failed, notices=notices)


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
