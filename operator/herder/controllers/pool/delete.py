"""Deleting a ResourcePool: waits (InUse, with backoff) while ECSs or child ResourcePools still name the pool
or its backend pool still holds VMs or child pools (herder's or not); `deletionPolicy: Orphan` leaves it."""

from __future__ import annotations

from typing import Any

from herder.api import ResourcePool
from herder.controllers.shared.indexes import Lookups, zone_and_provider
from herder.controllers.shared.runtime import Runtime
from herder.errors import HerderError, NotSupported
from herder.reasons import Reason
from herder.reconcile.pool import PoolDeletion, plan_deletion


def delete_pool(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> PoolDeletion:
    pool = ResourcePool.model_validate(body)
    decision = plan_deletion(pool, lookups.pool_dependents(pool.metadata.name or ""))
    if not decision.remove:
        return decision
    if lookups.zone(pool.spec.zone) is None:
        return PoolDeletion(False, True, Reason.DELETED, f"zone {pool.spec.zone} is gone: no backend pool to delete")
    try:
        _, handle = zone_and_provider(runtime, lookups, pool.spec.zone)
        handle.provider.pools.delete(pool.status.managed_object_id or "")
    except NotSupported as exc:
        return PoolDeletion(False, True, exc.reason, str(exc))
    except HerderError as exc:
        return PoolDeletion(False, False, exc.reason, str(exc))
    return decision
