"""ServerSnapshot: a point-in-time snapshot (vCenter) or checkpoint (SCVMM) of a server (namespaced)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from herder.api.common import DeletionPolicy, ProviderRef
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
    immutable,
    validations,
)
from herder.api.quantities import Quantity


class ServerSnapshotSpec(HerderModel):
    """What to snapshot and how."""

    server: Name = Field(
        description="ElasticCloudServer (same namespace) to snapshot. Immutable.",
        json_schema_extra=validations(immutable("spec.server")),
    )
    memory: bool = Field(
        default=False,
        description="Include the memory of a running server (vCenter only: SCVMM refuses it with reason "
        "NotSupported), so a restore resumes it. Immutable.",
        json_schema_extra=validations(immutable("spec.memory")),
    )
    quiesce: bool = Field(
        default=False,
        description="Quiesce the guest file systems via guest tools first (vCenter: VMware Tools; SCVMM: a "
        "production checkpoint, else a standard one). Immutable.",
        json_schema_extra=validations(immutable("spec.quiesce")),
    )
    description: str | None = Field(default=None, max_length=1024, description="Free-form description.")
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the backend snapshot when the object is deleted; Orphan leaves it.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(self.memory && self.quiesce)",
                "spec.quiesce cannot be combined with spec.memory",
                field_path=".quiesce",
            )
        )
    )


class ServerSnapshotStatus(Status):
    """The snapshot as last observed."""

    ready_to_use: bool | None = Field(default=None, description="The snapshot exists and can be restored.")
    unique_id: str | None = Field(
        default=None,
        max_length=128,
        alias="uniqueID",
        description="Backend identity: vCenter snapshot moref or SCVMM checkpoint ID.",
    )
    server_unique_id: str | None = Field(
        default=None,
        max_length=128,
        alias="serverUniqueID",
        description="uniqueID of the snapshotted server.",
    )
    creation_time: datetime | None = Field(default=None, description="When the backend took the snapshot.")
    size: Quantity | None = Field(
        default=None, description="Disk space the snapshot takes, where the backend reports it (vCenter).")
    parent_unique_id: str | None = Field(
        default=None, max_length=128, alias="parentUniqueID",
        description="uniqueID of the snapshot this one was taken on top of (the server's current snapshot "
        "then); unset for a first snapshot.",
    )
    parent_snapshot: str | None = Field(
        default=None, max_length=253, description="The ServerSnapshot (same namespace) that made the parent, "
        "when herder made it.")
    provider: ProviderRef | None = Field(
        default=None, description="The backend the snapshot is on, recorded when it is taken: a snapshot whose "
        "server is gone is still removed there.")
    pending_task: PendingTask | None = Field(default=None, description="The backend task in flight.")


class ServerSnapshot(Resource):
    """A snapshot of an ElasticCloudServer. Restore it with a ServerSnapshotRestore."""

    kind: str = "ServerSnapshot"
    spec: ServerSnapshotSpec = Field(description="Server and options.")
    status: ServerSnapshotStatus = Field(default_factory=ServerSnapshotStatus, description="Observed state.")


KIND = KindInfo(
    model=ServerSnapshot,
    kind="ServerSnapshot",
    plural="serversnapshots",
    singular="serversnapshot",
    scope=Scope.NAMESPACED,
    short_names=("ssnap",),
    printer_columns=(
        {"name": "Server", "type": "string", "jsonPath": ".spec.server"},
        {"name": "Memory", "type": "boolean", "jsonPath": ".spec.memory"},
        {"name": "ReadyToUse", "type": "boolean", "jsonPath": ".status.readyToUse"},
        {"name": "Size", "type": "string", "priority": 1, "jsonPath": ".status.size"},
        {"name": "Created", "type": "date", "priority": 1, "jsonPath": ".status.creationTime"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
