"""A ResourcePool's plan: the backend pool its spec asks for (`reconcile.pool.pool_spec`), compared with the one
on the backend (`reconcile.pool.pool_changes`); and what deleting it does (`reconcile.pool.plan_deletion`)."""

from __future__ import annotations

from typing import Any

from herder.api import ResourcePool, format_mib
from herder.controllers.pool.sync import ancestors_of
from herder.controllers.shared.indexes import zone_and_reads
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, unresolved
from herder.plan.model import Change, Do, Step
from herder.providers.types import Allocation, PoolSpec, SCVMMPlacement, SharesLevel
from herder.reasons import Reason
from herder.reconcile.pool import capacity, held_within_parent, plan_deletion, pool_changes, pool_spec


def _allocation(what: str, allocation: Allocation, unit: str) -> str:
    def amount(value: int) -> str:
        return format_mib(value) if unit == "MiB" else f"{value} MHz"

    shares = allocation.shares_level.value + (f" {allocation.shares}" if allocation.shares_level is SharesLevel.CUSTOM
                                              else "")
    limit = amount(allocation.limit) if allocation.limit is not None else "unlimited"
    return f"{what} reservation {amount(allocation.reservation)}, limit {limit}, shares {shares}"


def _settings(spec: PoolSpec) -> str:
    if isinstance(spec.parent, SCVMMPlacement):
        return "capacity " + ", ".join(f"{name} {value}" for name, value in capacity(spec.limits).items())
    return f"{_allocation('CPU', spec.cpu, 'MHz')}; {_allocation('memory', spec.memory, 'MiB')}"


def _made(spec: PoolSpec, again: str, parent_path: str) -> str:
    """What creating the backend pool makes: a resource pool under its parent, or a VMM cloud on host groups."""
    where = spec.parent
    if isinstance(where, SCVMMPlacement):
        groups = f"host group {where.host_group}" if where.host_group else f"the host groups of cloud {where.cloud}"
        return f"create VMM cloud {spec.name}{again} on {groups}"
    return f"create resource pool {spec.name}{again} under {parent_path}"


def plan_pool(ctx: Context, body: dict[str, Any]) -> Outcome:
    pool = ResourcePool.model_validate(body)
    try:
        zone, reads = zone_and_reads(ctx.backends, ctx.world.lookups, pool.spec.zone)
        above = ancestors_of(pool, ctx.world.lookups)
        spec = pool_spec(pool, zone, above)
        known = pool.status.managed_object_id
        observed = reads.pools.observe(known) if known else None
    except HerderError as exc:
        return unresolved(exc)
    parent_path = getattr(spec.parent, "resource_pool", None) or f"the root pool of zone {pool.spec.zone}"
    held = held_within_parent(pool, zone, above)
    blocked = [Step(Do.BLOCKED, f"{held}: the cloud is held within its parent's capacity",
                    reason=Reason.LIMIT_EXCEEDS_PARENT.value)] if held else []
    if observed is None:
        again = " again (the backend pool recorded in status is gone)" if known else ""
        return Outcome(steps=[Step(Do.CREATE_POOL, f"{_made(spec, again, parent_path)}: "
                                   f"{_settings(spec)}", details={"pool": spec.name, "parent": parent_path}),
                              *blocked])
    found = pool_changes(spec, observed)
    if not found:
        return Outcome(steps=blocked)
    words = "; ".join(f"{c.setting} {c.before} -> {c.after}" for c in found)
    return Outcome(steps=[Step(Do.UPDATE_POOL, f"update resource pool {observed.path}: {words} (live: servers in "
                               "it keep running where they are)", tuple(Change(c.setting, c.before, c.after)
                                                                         for c in found),
                               details={"pool": observed.path}), *blocked])


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
