"""Decisions for one ResourcePool: the backend pool its spec asks for (under its parent ResourcePool's, else
under the zone's), the status it reports, and whether it may go. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herder.api import AvailabilityZone, DeletionPolicy, ResourcePool, format_mib
from herder.api.resourcepool import CPUAllocation, MemoryAllocation
from herder.errors import NotSupported, Unresolvable
from herder.providers.types import Allocation, ObservedPool, PoolSpec, SharesLevel, VCenterPlacement
from herder.reasons import Reason

SHOWN_DEPENDENTS = 5


def allocation(wanted: CPUAllocation | MemoryAllocation) -> Allocation:
    """CPU stays in MHz; memory quantities become MiB (vSphere's unit for pools)."""
    if isinstance(wanted, CPUAllocation):
        reservation, limit = wanted.reservation, wanted.limit
    else:
        reservation = wanted.reservation.mib
        limit = wanted.limit.mib if wanted.limit is not None else None
    level = SharesLevel(wanted.shares.level.value.lower())
    return Allocation(reservation=reservation, limit=limit, shares_level=level,
                      shares=wanted.shares.value if level is SharesLevel.CUSTOM else None,
                      expandable_reservation=wanted.expandable_reservation)


def pool_spec(pool: ResourcePool, zone: AvailabilityZone, parent: ResourcePool | None) -> PoolSpec:
    """The backend pool: under `parent` (the ResourcePool spec.parent names, as found; None when it names
    none), else under the zone's resource pool or its cluster's / host's root pool."""
    where = zone.spec.vcenter
    if where is None:
        raise NotSupported("ResourcePools are only supported in vCenter zones (SCVMM: clouds are managed in VMM)")
    parent_path = where.resource_pool
    if pool.spec.parent:
        if parent is None:
            raise Unresolvable(Reason.PARENT_NOT_FOUND, f"parent ResourcePool {pool.spec.parent} not found")
        if parent.spec.zone != pool.spec.zone:
            raise Unresolvable(Reason.PARENT_INVALID, f"parent ResourcePool {pool.spec.parent} is in zone "
                               f"{parent.spec.zone}, not {pool.spec.zone}")
        if not parent.status.path:
            raise Unresolvable(Reason.PARENT_NOT_READY, f"parent ResourcePool {pool.spec.parent} is not created yet")
        parent_path = parent.status.path
    placement = VCenterPlacement(cluster=where.cluster, host=where.host, resource_pool=parent_path)
    return PoolSpec(name=pool.metadata.name or "", parent=placement, cpu=allocation(pool.spec.cpu),
                    memory=allocation(pool.spec.memory))


def status_fields(observed: ObservedPool) -> dict[str, Any]:
    cpu, memory = observed.cpu_usage, observed.memory_usage
    usage = {
        "cpuReservationUsedMHz": cpu.reservation_used,
        "memoryReservationUsed": format_mib(memory.reservation_used) if memory.reservation_used is not None
        else None,
        "cpuAvailableMHz": cpu.available,
        "memoryAvailable": format_mib(memory.available) if memory.available is not None else None,
        "servers": observed.vms,
    }
    return {"managedObjectID": observed.ref, "path": observed.path,
            "usage": {k: v for k, v in usage.items() if v is not None}}


@dataclass(frozen=True)
class SettingChange:
    """One setting of a backend pool that differs from its spec, in words."""

    setting: str  # e.g. "memory limit"
    before: str
    after: str


def _settings(allocation: Allocation, unit: str) -> dict[str, str]:
    def amount(value: int | None) -> str:
        if value is None:
            return "unlimited"
        return format_mib(value) if unit == "MiB" else f"{value} MHz"

    level = allocation.shares_level
    return {"reservation": amount(allocation.reservation), "limit": amount(allocation.limit),
            "shares": f"{level.value} {allocation.shares}" if level is SharesLevel.CUSTOM else level.value,
            "expandable reservation": "yes" if allocation.expandable_reservation else "no"}


def pool_changes(spec: PoolSpec, observed: ObservedPool) -> list[SettingChange]:
    """What bringing the backend pool to its spec changes (applied live: VMs in the pool are not touched)."""
    changes = []
    for resource, wanted, current, unit in (("CPU", spec.cpu, observed.cpu, "MHz"),
                                            ("memory", spec.memory, observed.memory, "MiB")):
        after, before = _settings(wanted, unit), _settings(current, unit)
        changes += [SettingChange(f"{resource} {name}", before[name], after[name]) for name in after
                    if after[name] != before[name]]
    return changes


@dataclass(frozen=True)
class PoolDeletion:
    """What deleting a ResourcePool does: leave the backend pool, wait (InUse), or remove it."""

    remove: bool  # remove the backend pool now
    done: bool  # the object may go once that is done
    reason: Reason
    message: str


def plan_deletion(pool: ResourcePool, dependents: list[str]) -> PoolDeletion:
    """`dependents`: the ECSs and child ResourcePools that still name the pool."""
    if pool.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return PoolDeletion(False, True, Reason.ORPHANED,
                            f"deletionPolicy Orphan: resource pool {pool.status.path or '-'} is left as is")
    if dependents:
        shown = ", ".join(dependents[:SHOWN_DEPENDENTS])
        more = len(dependents) - SHOWN_DEPENDENTS
        return PoolDeletion(False, False, Reason.IN_USE, f"still used by {shown}" + (f" and {more} more" if more > 0
                                                                                     else ""))
    if not pool.status.managed_object_id:
        return PoolDeletion(False, True, Reason.DELETED, "no backend pool to delete")
    return PoolDeletion(True, True, Reason.DELETED, f"resource pool {pool.status.path} deleted")
