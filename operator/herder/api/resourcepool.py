"""ResourcePool: a CPU/memory allocation in a zone, nested like the organisation (cluster-scoped). A vCenter
resource pool, or a VMM cloud with capacity limits."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from herder.api.common import DeletionPolicy
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Name,
    Resource,
    Scope,
    Status,
    cel,
    immutable,
    validations,
)
from herder.api.quantities import Quantity
from herder.api.selectors import LabelSelector


class SharesLevel(StrEnum):
    LOW = "Low"
    NORMAL = "Normal"
    HIGH = "High"
    CUSTOM = "Custom"


class Shares(HerderModel):
    """Relative priority against sibling pools under contention."""

    level: SharesLevel = Field(default=SharesLevel.NORMAL, description="Low, Normal, High or Custom.")
    value: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Number of shares; required for (and only for) Custom."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.level == 'Custom' ? has(self.value) : !has(self.value)",
                "shares.value is required when shares.level is Custom and forbidden otherwise",
                field_path=".value",
            )
        )
    )


class CPUAllocation(HerderModel):
    """CPU allocation: in MHz on vCenter, in vCPUs on SCVMM."""

    reservation: int = Field(default=0, ge=0, description="Guaranteed CPU in MHz (vCenter).")
    limit: int | None = Field(default=None, ge=0, description="Upper bound in MHz (vCenter). Unset: unlimited.")
    vcpu_limit: int | None = Field(
        default=None, ge=0, le=0xFFFFFFFF, alias="vcpuLimit",
        description="Upper bound on the vCPUs of the pool's servers together (SCVMM: the cloud's virtual CPU "
        "capacity). Unset: unlimited (SCVMM: the parent pool's).",
    )
    shares: Shares = Field(default_factory=Shares, description="Shares under contention.")
    expandable_reservation: bool = Field(
        default=True, description="Whether the pool may borrow unreserved capacity from its parent."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.limit) || self.limit >= self.reservation",
                "spec.cpu.limit must be at least spec.cpu.reservation",
                field_path=".limit",
            )
        )
    )


class MemoryAllocation(HerderModel):
    """Memory allocation, as quantities (e.g. 64Gi)."""

    reservation: Quantity = Field(default="0", validate_default=True, description="Guaranteed memory (vCenter).")
    limit: Quantity | None = Field(
        default=None, description="Upper bound (SCVMM: the cloud's memory capacity). Unset: unlimited (SCVMM: the "
        "parent pool's).")
    shares: Shares = Field(default_factory=Shares, description="Shares under contention.")
    expandable_reservation: bool = Field(
        default=True, description="Whether the pool may borrow unreserved capacity from its parent."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.limit) || "
                "quantity(string(self.limit)).compareTo(quantity(string(self.reservation))) >= 0",
                "spec.memory.limit must be at least spec.memory.reservation",
                field_path=".limit",
            )
        )
    )


class ResourcePoolSpec(HerderModel):
    """Limits for CPU and memory (vCenter also reservations and shares; SCVMM also vCPU, server and storage
    limits); changes apply live, without touching VMs. A field the zone's backend has no equivalent of is
    refused with a condition naming it."""

    zone: Name = Field(
        description="AvailabilityZone the pool lives in. Immutable.",
        json_schema_extra=validations(immutable("spec.zone")),
    )
    parent: Name | None = Field(
        default=None,
        description="Parent ResourcePool (same zone; not the pool itself). Unset: the zone's root pool. Immutable.",
    )
    cpu: CPUAllocation = Field(default_factory=CPUAllocation, description="CPU allocation in MHz.")
    memory: MemoryAllocation = Field(default_factory=MemoryAllocation, description="Memory allocation.")
    server_limit: int | None = Field(
        default=None, ge=0, le=0xFFFFFFFF,
        description="Upper bound on the number of servers in the pool (SCVMM: the cloud's virtual machine "
        "capacity). Unset: unlimited (SCVMM: the parent pool's).",
    )
    storage_limit: Quantity | None = Field(
        default=None,
        description="Upper bound on the disks of the pool's servers together, in whole GiB (SCVMM: the cloud's "
        "storage capacity). Unset: unlimited (SCVMM: the parent pool's).",
    )
    allowed_namespaces: LabelSelector | None = Field(
        default=None,
        description="Namespaces whose ECSs may use this pool. Unset or empty: every namespace.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the backend pool (it must be empty); Orphan leaves it.",
    )


class ResourceUsage(HerderModel):
    """Usage last observed on the backend."""

    cpu_reservation_used_mhz: int | None = Field(
        default=None, ge=0, alias="cpuReservationUsedMHz", description="CPU reservation in use, MHz."
    )
    memory_reservation_used: Quantity | None = Field(default=None, description="Memory reservation in use.")
    cpu_available_mhz: int | None = Field(
        default=None, ge=0, alias="cpuAvailableMHz", description="CPU still reservable by VMs, MHz."
    )
    memory_available: Quantity | None = Field(
        default=None, description="vCenter: memory still reservable by VMs; SCVMM: memory capacity not yet used.")
    servers: int | None = Field(default=None, ge=0, description="Number of servers in the pool.")
    vcpus: int | None = Field(default=None, ge=0, description="vCPUs of the pool's servers (SCVMM).")
    memory: Quantity | None = Field(default=None, description="Memory of the pool's servers (SCVMM).")
    storage: Quantity | None = Field(default=None, description="Disks of the pool's servers (SCVMM).")


class PoolCapacity(HerderModel):
    """What the backend enforces, as last observed; unset: unlimited."""

    cpu_mhz: int | None = Field(default=None, ge=0, alias="cpuMHz", description="CPU limit in MHz (vCenter).")
    vcpus: int | None = Field(default=None, ge=0, description="vCPU capacity (SCVMM).")
    memory: Quantity | None = Field(default=None, description="Memory limit.")
    servers: int | None = Field(default=None, ge=0, description="Server capacity (SCVMM).")
    storage: Quantity | None = Field(default=None, description="Storage capacity (SCVMM).")


class ResourcePoolStatus(Status):
    """Observed state of the pool."""

    managed_object_id: str | None = Field(
        default=None,
        max_length=128,
        alias="managedObjectID",
        description="Moref of the vCenter resource pool (SCVMM: the ID of the pool's cloud).",
    )
    path: str | None = Field(default=None, max_length=2048,
                             description="Inventory path of the pool (SCVMM: the name of its cloud).")
    capacity: PoolCapacity | None = Field(
        default=None, description="The limits the backend enforces (SCVMM: the cloud's capacity, a child's kept "
        "within its parent's).")
    usage: ResourceUsage | None = Field(default=None, description="Usage last observed.")


def _parent_rule() -> dict[str, str]:
    return cel(
        "has(self.parent) == has(oldSelf.parent) && (!has(self.parent) || self.parent == oldSelf.parent)",
        "spec.parent is immutable",
        field_path=".parent",
    )


class ResourcePool(Resource):
    """A pool of compute in a zone (a vCenter resource pool, or a VMM cloud). ECSs name it in spec.resourcePool."""

    kind: str = "ResourcePool"
    spec: ResourcePoolSpec = Field(
        description="Zone, parent and allocations.", json_schema_extra=validations(_parent_rule())
    )
    status: ResourcePoolStatus = Field(default_factory=ResourcePoolStatus, description="Observed state.")


KIND = KindInfo(
    model=ResourcePool,
    kind="ResourcePool",
    plural="resourcepools",
    singular="resourcepool",
    scope=Scope.CLUSTER,
    short_names=("rpool",),
    rules=(cel("!has(self.spec.parent) || self.spec.parent != self.metadata.name",
               "spec.parent: a ResourcePool cannot be its own parent", field_path=".spec.parent"),),
    printer_columns=(
        {"name": "Zone", "type": "string", "jsonPath": ".spec.zone"},
        {"name": "Parent", "type": "string", "jsonPath": ".spec.parent"},
        {"name": "CPU Limit", "type": "integer", "jsonPath": ".spec.cpu.limit"},
        {"name": "Memory Limit", "type": "string", "jsonPath": ".spec.memory.limit"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
