"""Decisions for one ResourcePool: the backend pool its spec asks for (vCenter: under its parent ResourcePool's,
else under the zone's; SCVMM: a cloud scoped to the zone's host group, its capacity kept within its parent's),
the status it reports, and whether it may go. Pure: no I/O, no clock.

A field the zone's backend has no equivalent of is refused (NotSupported, naming it) rather than ignored:
reservations, shares and expandable reservations and a CPU limit in MHz on SCVMM; vCPU, server and storage
limits on vCenter. The backend is the zone's, which a CRD rule cannot read, so the check is made here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from herder.api import AvailabilityZone, DeletionPolicy, ResourcePool, format_mib, quantity_to_bytes, quantity_to_mib
from herder.api.resourcepool import CPUAllocation, MemoryAllocation
from herder.api.resourcepool import SharesLevel as ApiShares
from herder.errors import NotSupported, Unresolvable
from herder.providers.types import (
    Allocation,
    Counts,
    ObservedPool,
    PoolSpec,
    SCVMMPlacement,
    SharesLevel,
    VCenterPlacement,
)
from herder.reasons import Reason

SHOWN_DEPENDENTS = 5
_GIB = 1 << 30
# How a limit is named in a pool's spec, for messages.
_FIELDS = {"servers": "spec.serverLimit", "vcpus": "spec.cpu.vcpuLimit", "memory_mib": "spec.memory.limit",
           "storage_gib": "spec.storageLimit"}
# How a cloud's capacity dimension is named in words (a plan's changes).
_CAPACITY = {"servers": "servers", "vcpus": "vCPUs", "memory_mib": "memory", "storage_gib": "storage"}


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


def own_limits(pool: ResourcePool) -> Counts:
    """The cloud capacity a pool's spec asks for; None where it leaves a dimension to its parent."""
    spec = pool.spec
    storage = spec.storage_limit
    return Counts(servers=spec.server_limit, vcpus=spec.cpu.vcpu_limit,
                  memory_mib=spec.memory.limit.mib if spec.memory.limit is not None else None,
                  storage_gib=math.ceil(storage.bytes / _GIB) if storage is not None else None)


def _within(own: Counts, parent: Counts) -> Counts:
    """Each dimension: the pool's own limit within its parent's; an unset one takes the parent's."""
    values: dict[str, int | None] = {}
    for f in fields(Counts):
        mine, theirs = getattr(own, f.name), getattr(parent, f.name)
        values[f.name] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
    return Counts(**values)


def effective_limits(chain: Sequence[ResourcePool]) -> Counts:
    """The capacity of the last pool of `chain` (root first, each the parent of the next): clouds do not nest,
    so a child is held within every pool above it."""
    limits = Counts()
    for pool in chain:
        limits = _within(own_limits(pool), limits)
    return limits


def exceeding_parent(pool: ResourcePool, ancestors: Sequence[ResourcePool]) -> list[str]:
    """What the pool asks for beyond its parent's capacity (`ancestors`: parent first); [] when it fits."""
    if not ancestors:
        return []
    parent = effective_limits(list(reversed(ancestors)))
    own = own_limits(pool)
    found = []
    for f in fields(Counts):
        mine, theirs = getattr(own, f.name), getattr(parent, f.name)
        if mine is not None and theirs is not None and mine > theirs:
            found.append(f"{_FIELDS[f.name]} {_shown(f.name, mine)} exceeds parent ResourcePool "
                         f"{ancestors[0].metadata.name}'s {_shown(f.name, theirs)}")
    return found


def held_within_parent(pool: ResourcePool, zone: AvailabilityZone, ancestors: Sequence[ResourcePool]) -> str:
    """Why an SCVMM pool's cloud gets less than its spec asks for (its parent's capacity holds it); "" when it
    gets all of it, and on vCenter, where a child pool's limits are vCenter's to enforce."""
    return "; ".join(exceeding_parent(pool, ancestors)) if zone.spec.scvmm is not None else ""


def _shown(name: str, value: int) -> str:
    return format_mib(value) if name == "memory_mib" else f"{value}Gi" if name == "storage_gib" else str(value)


def _unsupported_on_scvmm(pool: ResourcePool) -> list[str]:
    found = []
    for kind, wanted in (("cpu", pool.spec.cpu), ("memory", pool.spec.memory)):
        if (wanted.reservation if isinstance(wanted, CPUAllocation) else wanted.reservation.bytes):
            found.append(f"spec.{kind}.reservation")
        if wanted.shares.level is not ApiShares.NORMAL or wanted.shares.value is not None:
            found.append(f"spec.{kind}.shares")
        if not wanted.expandable_reservation:
            found.append(f"spec.{kind}.expandableReservation")
    if pool.spec.cpu.limit is not None:
        found.append("spec.cpu.limit (MHz; a cloud counts vCPUs: spec.cpu.vcpuLimit)")
    return found


def _unsupported_on_vcenter(pool: ResourcePool) -> list[str]:
    spec = pool.spec
    named = (("spec.cpu.vcpuLimit", spec.cpu.vcpu_limit), ("spec.serverLimit", spec.server_limit),
             ("spec.storageLimit", spec.storage_limit))
    return [name for name, value in named if value is not None]


def _parent(pool: ResourcePool, parent: ResourcePool | None) -> ResourcePool | None:
    """The parent ResourcePool, checked: found, in the same zone, made on the backend."""
    if not pool.spec.parent:
        return None
    if parent is None:
        raise Unresolvable(Reason.PARENT_NOT_FOUND, f"parent ResourcePool {pool.spec.parent} not found")
    if parent.spec.zone != pool.spec.zone:
        raise Unresolvable(Reason.PARENT_INVALID, f"parent ResourcePool {pool.spec.parent} is in zone "
                           f"{parent.spec.zone}, not {pool.spec.zone}")
    if not parent.status.path:
        raise Unresolvable(Reason.PARENT_NOT_READY, f"parent ResourcePool {pool.spec.parent} is not created yet")
    return parent


def pool_spec(pool: ResourcePool, zone: AvailabilityZone, ancestors: Sequence[ResourcePool] = ()) -> PoolSpec:
    """The backend pool. `ancestors`: the ResourcePools above it as found, parent first (empty when spec.parent
    names none, or when it is not found).

    vCenter: under the parent's pool, else under the zone's resource pool or its cluster's / host's root pool.
    SCVMM: a cloud on the zone's host group (or its cloud's host groups), its capacity the pool's limits kept
    within every ancestor's."""
    parent = _parent(pool, ancestors[0] if ancestors else None)
    name, uid = pool.metadata.name or "", pool.metadata.uid or ""
    where = zone.spec.vcenter
    if where is not None:
        refused = _unsupported_on_vcenter(pool)
        if refused:
            raise NotSupported(f"{', '.join(refused)}: vCenter resource pools have no vCPU, server or storage "
                               f"limit (zone {zone.metadata.name} is on vCenter); leave them unset")
        placement = VCenterPlacement(cluster=where.cluster, host=where.host,
                                     resource_pool=parent.status.path if parent is not None else where.resource_pool)
        return PoolSpec(name=name, parent=placement, cpu=allocation(pool.spec.cpu),
                        memory=allocation(pool.spec.memory), uid=uid)
    scvmm = zone.spec.scvmm
    if scvmm is None:
        raise Unresolvable(Reason.ZONE_INVALID, f"zone {zone.metadata.name} has no placement")
    refused = _unsupported_on_scvmm(pool)
    if refused:
        raise NotSupported(f"{', '.join(refused)}: a VMM cloud has no reservation, shares, expandable reservation "
                           f"or CPU limit in MHz (zone {zone.metadata.name} is on SCVMM); leave them unset")
    limits = effective_limits([*reversed(ancestors), pool]) if parent is not None else own_limits(pool)
    return PoolSpec(name=name, parent=SCVMMPlacement(host_group=scvmm.host_group, cloud=scvmm.cloud),
                    memory=Allocation(limit=limits.memory_mib), limits=limits, uid=uid)


@dataclass(frozen=True)
class CloudRoom:
    """A ResourcePool's VMM cloud as its stored status reports it: its capacity and what its servers use."""

    pool: str
    cloud: str  # the cloud's name (status.path)
    limits: Counts
    used: Counts


def cloud_room(name: str, status: Mapping[str, Any]) -> CloudRoom | None:
    """The cloud of ResourcePool `name` from its status (`status_fields`' `capacity` and `usage`); None before it
    reports one."""
    capacity, usage = status.get("capacity") or {}, status.get("usage") or {}
    if not status.get("path") or not capacity:
        return None

    def counts(values: Mapping[str, Any]) -> Counts:
        memory, storage = values.get("memory"), values.get("storage")
        return Counts(servers=values.get("servers"), vcpus=values.get("vcpus"),
                      memory_mib=quantity_to_mib(memory) if memory is not None else None,
                      storage_gib=math.ceil(quantity_to_bytes(storage) / _GIB) if storage is not None else None)

    return CloudRoom(name, str(status["path"]), counts(capacity), counts(usage))


def cloud_refusal(room: CloudRoom, more: Counts) -> str | None:
    """Why the cloud's capacity does not admit `more` (what a create, a move into it or a resize adds), by what
    the pool's status says; None when it does. VMM itself has the last word when the step is taken."""
    for f in fields(Counts):
        limit, adding = getattr(room.limits, f.name), getattr(more, f.name) or 0
        used = getattr(room.used, f.name) or 0
        if limit is not None and adding > 0 and used + adding > limit:
            return (f"ResourcePool {room.pool}'s cloud {room.cloud} has no room: {_CAPACITY[f.name]} "
                    f"{_shown(f.name, used)} used of {_shown(f.name, limit)}, {_shown(f.name, adding)} more asked "
                    f"({_FIELDS[f.name]}); retried when its usage goes down")
    return None


def _gib(value: int | None) -> str | None:
    return f"{value}Gi" if value is not None else None


def _mib(value: int | None) -> str | None:
    return format_mib(value) if value is not None else None


def status_fields(observed: ObservedPool) -> dict[str, Any]:
    cpu, memory, used, limits = observed.cpu_usage, observed.memory_usage, observed.used, observed.limits
    usage = {
        "cpuReservationUsedMHz": cpu.reservation_used,
        "memoryReservationUsed": _mib(memory.reservation_used),
        "cpuAvailableMHz": cpu.available,
        "memoryAvailable": _mib(memory.available),
        "servers": observed.vms,
        "vcpus": used.vcpus,
        "memory": _mib(used.memory_mib),
        "storage": _gib(used.storage_gib),
    }
    capacity = {
        "cpuMHz": observed.cpu.limit,
        "memory": _mib(observed.memory.limit),
        "vcpus": limits.vcpus,
        "servers": limits.servers,
        "storage": _gib(limits.storage_gib),
    }
    return {"managedObjectID": observed.ref, "path": observed.path,
            "capacity": {k: v for k, v in capacity.items() if v is not None} or None,
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


def capacity(limits: Counts) -> dict[str, str]:
    """A VMM cloud's capacity in words, by dimension."""
    return {_CAPACITY[f.name]: "unlimited" if getattr(limits, f.name) is None
            else _shown(f.name, getattr(limits, f.name)) for f in fields(Counts)}


def pool_changes(spec: PoolSpec, observed: ObservedPool) -> list[SettingChange]:
    """What bringing the backend pool to its spec changes (applied live: VMs in the pool are not touched): a VMM
    cloud's capacity, a vCenter pool's CPU and memory allocations."""
    if isinstance(spec.parent, SCVMMPlacement):
        after, before = capacity(spec.limits), capacity(observed.limits)
        return [SettingChange(f"capacity {name}", before[name], after[name]) for name in after
                if after[name] != before[name]]
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
