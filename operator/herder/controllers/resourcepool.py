"""ResourcePool handlers: one daemon per pool keeps the backend pool as declared and reports its usage.

The pool is created under its parent ResourcePool's backend pool, else under the zone's resource pool (or
its cluster's / host's root pool). Changes to reservations, limits and shares are applied live. Usage is
re-read every USAGE_REFRESH_SECONDS, and status is written only when it changed. Deletion runs under herder's
finalizer: it waits (InUse, with backoff) while ECSs or child ResourcePools still name the pool, or its vCenter
pool still holds VMs or child pools (herder's or not), and leaves the pool alone with `deletionPolicy: Orphan`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import AvailabilityZone, DeletionPolicy, ResourcePool, format_mib, quantity_to_mib
from herder.api.resourcepool import CPUAllocation, MemoryAllocation
from herder.controllers.lookups import Lookups, zone_and_provider
from herder.controllers.runtime import Runtime, runtime_of
from herder.controllers.status import new_status, publish
from herder.providers.base import ProviderError
from herder.providers.types import Allocation, ObservedPool, PoolSpec, SharesLevel, VCenterPlacement
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import Unresolvable

PLURAL = "resourcepools"
IN_USE = "InUse"
USAGE_REFRESH_SECONDS = 30.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolOutcome:
    status: dict[str, Any]
    delay: float | None
    observed: ObservedPool | None = None


def allocation(wanted: CPUAllocation | MemoryAllocation) -> Allocation:
    """CPU stays in MHz; memory quantities become MiB (vSphere's unit for pools)."""
    if isinstance(wanted, CPUAllocation):
        reservation, limit = wanted.reservation, wanted.limit
    else:
        reservation = quantity_to_mib(wanted.reservation)
        limit = quantity_to_mib(wanted.limit) if wanted.limit is not None else None
    level = SharesLevel(wanted.shares.level.value.lower())
    return Allocation(reservation=reservation, limit=limit, shares_level=level,
                      shares=wanted.shares.value if level is SharesLevel.CUSTOM else None,
                      expandable_reservation=wanted.expandable_reservation)


def pool_spec(pool: ResourcePool, zone: AvailabilityZone, datacenter: str, lookups: Lookups) -> PoolSpec:
    where = zone.spec.vcenter
    if where is None:
        raise Unresolvable("NotSupported", "ResourcePools are only supported in vCenter zones (SCVMM: clouds "
                           "are managed in VMM)")
    parent_path = where.resource_pool
    if pool.spec.parent:
        parent_body = lookups.pool(pool.spec.parent)
        if parent_body is None:
            raise Unresolvable("ParentNotFound", f"parent ResourcePool {pool.spec.parent} not found")
        parent = ResourcePool.model_validate(parent_body)
        if parent.spec.zone != pool.spec.zone:
            raise Unresolvable("ParentInvalid", f"parent ResourcePool {pool.spec.parent} is in zone "
                               f"{parent.spec.zone}, not {pool.spec.zone}")
        if not parent.status.path:
            raise Unresolvable("ParentNotReady", f"parent ResourcePool {pool.spec.parent} is not created yet")
        parent_path = parent.status.path
    placement = VCenterPlacement(datacenter=datacenter, cluster=where.cluster, host=where.host,
                                 resource_pool=parent_path)
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
        "servers": observed.servers,
    }
    return {"managedObjectID": observed.ref, "path": observed.path,
            "usage": {k: v for k, v in usage.items() if v is not None}}


def sync_pool(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> PoolOutcome:
    pool = ResourcePool.model_validate(body)
    uid = pool.metadata.uid or ""
    generation = pool.metadata.generation or 0
    current = body.get("status") or {}
    try:
        zone, handle = zone_and_provider(runtime, lookups, pool.spec.zone)
        spec = pool_spec(pool, zone, handle.datacenter, lookups)
        observed = handle.provider.pools.ensure(spec, known_ref=pool.status.managed_object_id)
    except (Unresolvable, ProviderError) as exc:
        if exc.reason == "ProviderNotReady" and runtime.warming_up():
            return PoolOutcome(dict(current), 10.0)
        waiting = exc.reason in {"NotSupported", "ParentNotReady", "ParentNotFound", "ZoneNotFound"}
        delay = None if waiting else runtime.backoff.retry(uid)[0]
        log.info("ResourcePool %s: %s: %s", pool.metadata.name, exc.reason, exc)
        failure = Condition(READY, False, exc.reason, str(exc))
        return PoolOutcome(new_status(current, [failure], generation, {}), delay)
    runtime.backoff.succeeded(uid)
    ready = Condition(READY, True, "Ready", f"resource pool {observed.path}")
    return PoolOutcome(new_status(current, [ready], generation, status_fields(observed)), USAGE_REFRESH_SECONDS,
                       observed)


def _record(pool_name: str, zone: str, observed: ObservedPool) -> None:
    metrics.record_pool(pool_name, zone, observed.cpu.reservation * 1e6, observed.memory.reservation * 1024.0**2,
                        None if observed.cpu_usage.usage is None else observed.cpu_usage.usage * 1e6,
                        None if observed.memory_usage.usage is None else observed.memory_usage.usage * 1024.0**2)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def pool_daemon(*, body: kopf.Body, name: str, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                      **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    status = dict(body.get("status") or {})
    try:
        while not stopped and not body.get("metadata", {}).get("deletionTimestamp"):
            outcome = await asyncio.to_thread(sync_pool, runtime, {**body, "status": status}, lookups)
            status = await publish(body, PLURAL, status, outcome.status)
            if outcome.observed is not None:
                _record(name, str(body.get("spec", {}).get("zone") or ""), outcome.observed)
            await runtime.sleep(uid, outcome.delay, stopped)
    finally:
        runtime.forget(uid)


@kopf.on.event(GROUP, VERSION, PLURAL)
def pool_event(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)


@dataclass(frozen=True)
class PoolDeletion:
    done: bool
    message: str
    reason: str = "Deleted"


def delete_pool(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> PoolDeletion:
    pool = ResourcePool.model_validate(body)
    ref = pool.status.managed_object_id
    if pool.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return PoolDeletion(True, f"deletionPolicy Orphan: resource pool {pool.status.path or '-'} is left as is",
                            "Orphaned")
    dependents = lookups.pool_dependents(pool.metadata.name or "")
    if dependents:
        shown = ", ".join(dependents[:5]) + (f" and {len(dependents) - 5} more" if len(dependents) > 5 else "")
        return PoolDeletion(False, f"still used by {shown}", IN_USE)
    if not ref or lookups.zone(pool.spec.zone) is None:
        return PoolDeletion(True, "no backend pool to delete")
    try:
        _, handle = zone_and_provider(runtime, lookups, pool.spec.zone)
        handle.provider.pools.delete(ref)
    except (Unresolvable, ProviderError) as exc:
        if exc.reason == "NotSupported":
            return PoolDeletion(True, str(exc))
        return PoolDeletion(False, str(exc), exc.reason)
    return PoolDeletion(True, f"resource pool {pool.status.path} deleted")


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def pool_deleted(*, body: kopf.Body, name: str, uid: str, memo: kopf.Memo, logger: kopf.Logger,
                       **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_pool, runtime, dict(body), Lookups.of(kwargs))
    current = dict(body.get("status") or {})
    generation = int(body.get("metadata", {}).get("generation") or 0)
    if not result.done:
        delay = runtime.backoff.failed(uid)
        conditions = [Condition(READY, False, result.reason, result.message)]
        if result.reason == IN_USE:
            conditions.append(Condition(IN_USE, True, "HoldsServers", result.message))
        await publish(body, PLURAL, current, new_status(current, conditions, generation, {}))
        raise kopf.TemporaryError(f"{result.reason}: {result.message}", delay=delay)
    runtime.forget(uid)
    metrics.forget_pool(name)
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=result.reason, message=result.message)
