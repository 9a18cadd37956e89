"""ServerSnapshotRestore: a one-shot request to revert a server to a ServerSnapshot (namespaced)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from herder.api.ecs import PowerState
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Name,
    PendingTask,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)


class ServerSnapshotRestoreSpec(HerderModel):
    """Which snapshot to revert to. The whole spec is immutable: create a new object to restore again."""

    snapshot: Name = Field(description="ServerSnapshot (same namespace) to revert its server to.")
    power_state: PowerState | None = Field(
        default=None,
        description="Power state after the revert. Unset: the snapshot's (running if it includes memory, "
        "else off), after which the server's spec.powerState applies again.",
    )


class ServerSnapshotRestoreStatus(Status):
    """Progress of the restore. Terminal once Ready is True or reason is Failed."""

    server: str | None = Field(default=None, max_length=253, description="The server that was reverted.")
    completion_time: datetime | None = Field(default=None, description="When the revert finished.")
    pending_task: PendingTask | None = Field(default=None, description="The revert task in flight.")


class ServerSnapshotRestore(Resource):
    """Reverts the snapshot's server to the snapshot, once."""

    kind: str = "ServerSnapshotRestore"
    spec: ServerSnapshotRestoreSpec = Field(
        description="The snapshot to restore. Immutable.",
        json_schema_extra=validations(cel("self == oldSelf", "spec is immutable")),
    )
    status: ServerSnapshotRestoreStatus = Field(
        default_factory=ServerSnapshotRestoreStatus, description="Observed state."
    )


KIND = KindInfo(
    model=ServerSnapshotRestore,
    kind="ServerSnapshotRestore",
    plural="serversnapshotrestores",
    singular="serversnapshotrestore",
    scope=Scope.NAMESPACED,
    short_names=("ssrestore",),
    printer_columns=(
        {"name": "Snapshot", "type": "string", "jsonPath": ".spec.snapshot"},
        {"name": "Server", "type": "string", "jsonPath": ".status.server"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
