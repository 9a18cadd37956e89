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
from herder.errors import HerderError
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.pool import exceeding_parent, pool_spec, status_fields

USAGE_REFRESH_SECONDS = 30.0
MAX_DEPTH = 32  # deeper than any organisation; also ends a loop of parents
log = logging.getLogger(__name__)


def ancestors(pool: ResourcePool, lookups: Lookups) -> list[ResourcePool]:
    """The ResourcePools above `pool` as the index has them, parent first; stops at one that is missing."""
    found: list[ResourcePool] = []
    name = pool.spec.parent
    seen = {pool.metadata.name}
    while name and name not in seen and len(found) < MAX_DEPTH:
        body = lookups.pool(name)
        if body is None:
            break
        seen.add(name)
        found.append(ResourcePool.model_validate(body))
        name = found[-1].spec.parent
    return found


def sync_pool(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    pool = ResourcePool.model_validate(body)
    zone, handle = zone_and_provider(runtime, lookups, pool.spec.zone)
    above = ancestors(pool, lookups)
    spec = pool_spec(pool, zone, above)
    observed = handle.provider.pools.ensure(spec, known_ref=pool.status.managed_object_id)
    runtime.backoff.succeeded(pool.metadata.uid or "")
    metrics.record_pool(pool.metadata.name or "", pool.spec.zone, observed.cpu.reservation * 1e6,
                        observed.memory.reservation * 1024.0**2,
                        None if observed.cpu_usage.usage is None else observed.cpu_usage.usage * 1e6,
                        None if observed.memory_usage.usage is None else observed.memory_usage.usage * 1024.0**2)
    excess = exceeding_parent(pool, above) if zone.spec.scvmm is not None else []
    ready = Condition(READY, True, Reason.READY, f"resource pool {observed.path}") if not excess else \
        Condition(READY, False, Reason.LIMIT_EXCEEDS_PARENT,
                  f"{'; '.join(excess)}: the cloud {observed.path} is held within its parent's capacity")
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
