"""ServerSnapshotRestore: a one-shot request to revert a server to a ServerSnapshot (namespaced)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


class RestorePhase(StrEnum):
    """Where a restore is. The server makes no backend change of its own from Holding until the restore ends."""

    PENDING = "Pending"  # waiting for its snapshot (to exist, to be ready) or its server
    HOLDING = "Holding"  # the server is asked to stand still; waits for its go-ahead (no task of its own in flight)
    REVERTING = "Reverting"  # the revert task runs
    POWERING = "Powering"  # bringing the server to spec.powerState after the revert
    COMPLETED = "Completed"  # terminal: Ready=True
    FAILED = "Failed"  # terminal: Ready=False, reason Failed

    @property
    def holds_server(self) -> bool:
        return self in {RestorePhase.HOLDING, RestorePhase.REVERTING, RestorePhase.POWERING}

    @property
    def terminal(self) -> bool:
        return self in {RestorePhase.COMPLETED, RestorePhase.FAILED}


class ServerSnapshotRestoreStatus(Status):
    """Progress of the restore. Terminal once Ready is True or reason is Failed."""

    phase: RestorePhase | None = Field(default=None, description="Pending, Holding, Reverting, Powering, "
                                       "Completed or Failed (informational; use conditions).")
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
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
