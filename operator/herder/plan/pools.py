"""A ResourcePool's plan: the backend pool its spec asks for (`reconcile.pool.pool_spec`), compared with the one
on the backend (`reconcile.pool.pool_changes`); and what deleting it does (`reconcile.pool.plan_deletion`)."""

from __future__ import annotations

from typing import Any

from herder.api import ResourcePool, format_mib
from herder.controllers.shared.indexes import zone_and_reads
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, unresolved
from herder.plan.model import Change, Do, Step
from herder.providers.types import Allocation, PoolSpec, SharesLevel
from herder.reasons import Reason
from herder.reconcile.pool import plan_deletion, pool_changes, pool_spec


def _allocation(what: str, allocation: Allocation, unit: str) -> str:
    def amount(value: int) -> str:
        return format_mib(value) if unit == "MiB" else f"{value} MHz"

    shares = allocation.shares_level.value + (f" {allocation.shares}" if allocation.shares_level is SharesLevel.CUSTOM
                                              else "")
    limit = amount(allocation.limit) if allocation.limit is not None else "unlimited"
    return f"{what} reservation {amount(allocation.reservation)}, limit {limit}, shares {shares}"


def _settings(spec: PoolSpec) -> str:
    return f"{_allocation('CPU', spec.cpu, 'MHz')}; {_allocation('memory', spec.memory, 'MiB')}"


def plan_pool(ctx: Context, body: dict[str, Any]) -> Outcome:
    pool = ResourcePool.model_validate(body)
    try:
        zone, reads = zone_and_reads(ctx.backends, ctx.world.lookups, pool.spec.zone)
        parent = ctx.world.lookups.pool(pool.spec.parent) if pool.spec.parent else None
        spec = pool_spec(pool, zone, ResourcePool.model_validate(parent) if parent is not None else None)
        known = pool.status.managed_object_id
        observed = reads.pools.observe(known) if known else None
    except HerderError as exc:
        return unresolved(exc)
    parent_path = getattr(spec.parent, "resource_pool", None) or f"the root pool of zone {pool.spec.zone}"
    if observed is None:
        again = " again (the backend pool recorded in status is gone)" if known else ""
        return Outcome(steps=[Step(Do.CREATE_POOL, f"create resource pool {spec.name}{again} under {parent_path}: "
                                   f"{_settings(spec)}", details={"pool": spec.name, "parent": parent_path})])
    found = pool_changes(spec, observed)
    if not found:
        return Outcome()
    words = "; ".join(f"{c.setting} {c.before} -> {c.after}" for c in found)
    return Outcome(steps=[Step(Do.UPDATE_POOL, f"update resource pool {observed.path}: {words} (live: servers in "
                               "it keep running where they are)", tuple(Change(c.setting, c.before, c.after)
                                                                         for c in found),
                               details={"pool": observed.path})])


def pool_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    pool = ResourcePool.model_validate(body)
    decision = plan_deletion(pool, ctx.world.lookups.pool_dependents(pool.metadata.name or ""))
    if decision.reason is Reason.IN_USE:
        return Outcome(steps=[Step(Do.BLOCKED, f"not deleted while in use: {decision.message}",
                                   reason=decision.reason.value)])
    if not decision.remove:
        return Outcome(steps=[Step(Do.KEEP_POOL, decision.message)] if decision.reason is Reason.ORPHANED
                       else [], notes=[] if decision.reason is Reason.ORPHANED else [decision.message])
    return Outcome(steps=[Step(Do.DELETE_POOL, f"delete resource pool {pool.status.path} (refused by the backend "
                               "while it still holds VMs or child pools)", details={"pool": pool.status.path or ""})])
