"""Deleting a ServerSnapshotRestore: once it has ended (or before it started) nothing changes on the backend; a
revert or power change in flight is let finish first, so the server never takes it up half-way."""

from __future__ import annotations

from typing import Any

from herder.api import RestorePhase, ServerSnapshotRestore
from herder.controllers.shared.deletion import Deletion
from herder.controllers.shared.indexes import Lookups, zone_and_provider
from herder.controllers.shared.runtime import Runtime
from herder.errors import HerderError
from herder.providers.types import Operation, TaskRef, TaskStatus


def delete_restore(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Deletion:
    restore = ServerSnapshotRestore.model_validate(body)
    label = f"{restore.metadata.namespace}/{restore.metadata.name}"
    task = restore.status.pending_task
    phase = restore.status.phase or RestorePhase.PENDING
    server = lookups.server(restore.metadata.namespace or "", restore.status.server or "")
    if task is None or phase.terminal or server is None:
        return Deletion(True, f"{label}: deleted ({phase.value}); nothing changes on the backend")
    try:
        _, handle = zone_and_provider(runtime, lookups, server.zone or "")
        ref = TaskRef(task.id, Operation(task.operation))
        follow = handle.provider.snapshots.task if ref.operation is Operation.REVERT else handle.provider.vms.task
        if follow(ref).status is TaskStatus.RUNNING:
            return Deletion(False, f"{label}: waiting for its {task.operation} task {task.id} to end")
    except HerderError as exc:
        return Deletion(False, f"{label}: {exc.reason}: {exc}", runtime.backoff.failed(restore.metadata.uid or ""))
    return Deletion(True, f"{label}: deleted after its {task.operation} task ended")
