"""ServerQuota: hard limits on what a namespace's servers and private images may take (namespaced).

Kubernetes' ResourceQuota counts herder objects but cannot sum their vCPUs, memory or disks; a ServerQuota
does, and herder admits every create, resize and adoption against it before the backend is touched. Tenants
read it; platform administrators write it (see the chart's user roles).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)
from herder.api.quantities import Quantity

MAX_COUNT = 1_000_000


class QuotaLimits(HerderModel):
    """Hard limits; an unset one does not limit. 0 allows none."""

    servers: int | None = Field(
        default=None, ge=0, le=MAX_COUNT,
        description="ElasticCloudServers that hold a VM (or are making or adopting one).",
    )
    cpu: int | None = Field(default=None, ge=0, le=MAX_COUNT, description="vCPUs of those servers, in total.")
    memory: Quantity | None = Field(default=None, description="Memory of those servers, in total, e.g. 64Gi.")
    disk: Quantity | None = Field(
        default=None, description="Disks of those servers (OS and data disks), in total, e.g. 2Ti."
    )
    images: int | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="Private Images that hold a template (or are making one)."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.servers) || has(self.cpu) || has(self.memory) || has(self.disk) || has(self.images)",
                "spec.hard: set at least one of servers, cpu, memory, disk and images",
            )
        )
    )


class ServerQuotaSpec(HerderModel):
    """The namespace's limits."""

    hard: QuotaLimits = Field(
        description="Hard limits. Lowering one below what is in use blocks growth; nothing is ever deleted."
    )


class QuotaUsage(HerderModel):
    """What the namespace's servers and private images take now (as herder admitted and observed them)."""

    servers: int | None = Field(default=None, ge=0, description="Servers that hold a VM or are making one.")
    cpu: int | None = Field(default=None, ge=0, description="Their vCPUs.")
    memory: Quantity | None = Field(default=None, description="Their memory.")
    disk: Quantity | None = Field(default=None, description="Their disks.")
    images: int | None = Field(default=None, ge=0, description="Private Images that hold a template.")


class ServerQuotaStatus(Status):
    """Use against the limits."""

    used: QuotaUsage | None = Field(default=None, description="What is in use in the namespace now.")


class ServerQuota(Resource):
    """Hard limits on the servers, vCPUs, memory, disk and private images of a namespace."""

    kind: str = "ServerQuota"
    spec: ServerQuotaSpec = Field(description="The limits.")
    status: ServerQuotaStatus = Field(default_factory=ServerQuotaStatus, description="Observed use.")


KIND = KindInfo(
    model=ServerQuota,
    kind="ServerQuota",
    plural="serverquotas",
    singular="serverquota",
    scope=Scope.NAMESPACED,
    short_names=("squota",),
    administered=True,
    printer_columns=(
        {"name": "Servers", "type": "integer", "jsonPath": ".status.used.servers"},
        {"name": "Max Servers", "type": "integer", "jsonPath": ".spec.hard.servers"},
        {"name": "CPU", "type": "integer", "jsonPath": ".status.used.cpu"},
        {"name": "Max CPU", "type": "integer", "jsonPath": ".spec.hard.cpu"},
        {"name": "Memory", "type": "string", "jsonPath": ".status.used.memory"},
        {"name": "Max Memory", "type": "string", "jsonPath": ".spec.hard.memory"},
        {"name": "Disk", "type": "string", "jsonPath": ".status.used.disk", "priority": 1},
        {"name": "Max Disk", "type": "string", "jsonPath": ".spec.hard.disk", "priority": 1},
        {"name": "Images", "type": "integer", "jsonPath": ".status.used.images", "priority": 1},
        {"name": "Max Images", "type": "integer", "jsonPath": ".spec.hard.images", "priority": 1},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
