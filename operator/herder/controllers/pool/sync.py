"""One pass over a ResourcePool: keep the backend pool as declared (live: VMs in it are not touched) and
report its usage, re-read every USAGE_REFRESH_SECONDS. On SCVMM a child asking for more than its parent's
capacity is held within it, and says so (LimitExceedsParent)."""

from __future__ import annotations

import logging
from typing import Any

from herder import metrics
from herder.api import ResourcePool
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups, zone_and_provider
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import new_status
from herder.errors import HerderError, Unresolvable
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.pool import held_within_parent, pool_spec, status_fields

USAGE_REFRESH_SECONDS = 30.0
log = logging.getLogger(__name__)


def ancestors_of(pool: ResourcePool, lookups: Lookups) -> list[ResourcePool]:
    """The ResourcePools above `pool` as the index has them, parent first; stops at one that is missing (a cycle
    is refused before this is asked)."""
    parent = pool.spec.parent
    found: list[ResourcePool] = []
    for name in [parent, *lookups.pool_ancestors(parent)] if parent else []:
        body = lookups.pool(name)
        if body is None or name == pool.metadata.name:
            break
        found.append(ResourcePool.model_validate(body))
    return found


def sync_pool(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    pool = ResourcePool.model_validate(body)
    name = pool.metadata.name or ""
    ancestors = lookups.pool_ancestors(name)
    if name in ancestors:
        raise Unresolvable(Reason.PARENT_INVALID, "spec.parent forms a cycle (" + " -> ".join([name, *ancestors]) +
                           "): no pool of it can be made; delete these ResourcePools and create them with a parent "
                           "that leads to the zone")
    zone, handle = zone_and_provider(runtime, lookups, pool.spec.zone)
    above = ancestors_of(pool, lookups)
    spec = pool_spec(pool, zone, above)
    observed = handle.provider.pools.ensure(spec, known_ref=pool.status.managed_object_id)
    runtime.backoff.succeeded(pool.metadata.uid or "")
    metrics.record_pool(pool.metadata.name or "", pool.spec.zone, observed.cpu.reservation * 1e6,
                        observed.memory.reservation * 1024.0**2,
                        None if observed.cpu_usage.usage is None else observed.cpu_usage.usage * 1e6,
                        None if observed.memory_usage.usage is None else observed.memory_usage.usage * 1024.0**2)
    excess = held_within_parent(pool, zone, above)
    ready = Condition(READY, True, Reason.READY, f"resource pool {observed.path}") if not excess else \
        Condition(READY, False, Reason.LIMIT_EXCEEDS_PARENT, f"{excess}: the cloud {observed.path} is held within "
                  "its parent's capacity")
    status = new_status(body.get("status") or {}, [ready], pool.metadata.generation or 0, status_fields(observed))
    return Pass(status, USAGE_REFRESH_SECONDS)


def pool_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    """Wait for a change where only one can help (unsupported here, a parent or zone missing or not ready:
    their changes wake the pool); retry with backoff otherwise."""
    pool = ResourcePool.model_validate(body)
    waiting = exc.reason.final or exc.reason.awaits_dependency
    delay = None if waiting else runtime.backoff.retry(pool.metadata.uid or "")[0]
    log.info("ResourcePool %s: %s: %s", pool.metadata.name, exc.reason, exc)
    failure = Condition(READY, False, exc.reason, str(exc))
    return Pass(new_status(body.get("status") or {}, [failure], pool.metadata.generation or 0, {}), delay,
                failed=True)
