"""Deleting a ServerSnapshot: Delete removes the backend snapshot (its children stay), Orphan leaves it.

Never hangs on what is gone: a snapshot that was never taken, a VM that went (its snapshots with it) or a
snapshot already removed end the deletion at once. Each pass re-reads the backend, so a crash repeats it.
"""

from __future__ import annotations

from typing import Any

from herder.api import DeletionPolicy, ServerSnapshot
from herder.controllers.shared import tasks
from herder.controllers.shared.deletion import TASK_WAIT_SECONDS, Deletion
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.controllers.snapshot.sync import find_vm, provider_for, recorded_of
from herder.errors import HerderError
from herder.providers.types import TaskStatus


def delete_snapshot(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Deletion:
    snap = ServerSnapshot.model_validate(body)
    uid, namespace = snap.metadata.uid or "", snap.metadata.namespace or ""
    label = f"{namespace}/{snap.metadata.name}"
    recorded = recorded_of(snap)
    if snap.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return Deletion(True, f"{label}: snapshot {recorded.unique_id or '(none)'} left on the backend (Orphan)")
    if not recorded.unique_id and not recorded.pending_task:
        return Deletion(True, f"{label}: no snapshot was taken")
    server = lookups.server(namespace, snap.spec.server)
    try:
        reads, (kind, name) = provider_for(runtime, lookups, snap, server)
        snapshots = runtime.ready_provider(kind, name).provider.snapshots
        if recorded.pending_task is not None and \
                snapshots.task(recorded.pending_task).status is TaskStatus.RUNNING:
            return Deletion(False, f"{label}: waiting for the snapshot task {recorded.pending_task.id} to end")
        vm = find_vm(reads, server, recorded.server_unique_id)
        if vm is None:
            return Deletion(True, f"{label}: the VM is gone, and its snapshots with it")
        found = snapshots.find(vm, uid)
        if found is None:
            return Deletion(True, f"{label}: no snapshot left on the backend")
        status = tasks.wait(snapshots.task, snapshots.remove(vm, found.unique_id), TASK_WAIT_SECONDS)
        if status.status is TaskStatus.RUNNING:
            return Deletion(False, f"{label}: removing snapshot {found.unique_id}")
        if status.status is TaskStatus.FAILED:
            return Deletion(False, f"{label}: removing snapshot {found.unique_id} failed: {status.error}; retrying",
                            runtime.backoff.failed(uid))
    except HerderError as exc:
        return Deletion(False, f"{label}: {exc.reason}: {exc}; set spec.deletionPolicy: Orphan to finish without "
                               "touching the backend", runtime.backoff.failed(uid))
    runtime.forget(uid)
    return Deletion(True, f"{label}: snapshot {found.name} ({found.unique_id}) removed")
