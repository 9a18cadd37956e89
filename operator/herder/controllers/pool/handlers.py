"""ResourcePool handlers: one daemon per pool keeps its backend pool as declared and reports its usage;
deletion runs under herder's finalizer (see `delete`)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.controllers.pool.delete import delete_pool
from herder.controllers.pool.sync import pool_failed, sync_pool
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups, dependency_changed
from herder.controllers.shared.runtime import runtime_of
from herder.controllers.shared.status import new_status, publish
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition

PLURAL = "resourcepools"
KIND = "ResourcePool"


@kopf.index(GROUP, VERSION, PLURAL)
def pool_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {name: dict(body)}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def pool_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                      **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_pool(runtime, current, lookups),
                    on_error=lambda current, exc: pool_failed(runtime, current, exc))
    await daemon.run(body, uid, runtime, stopped)


@kopf.on.event(GROUP, VERSION, PLURAL)
def pool_event(*, type: str | None, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime = runtime_of(memo)
    runtime.wake(uid)
    dependency_changed(runtime, type, uid, body)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def pool_deleted(*, body: kopf.Body, name: str, uid: str, memo: kopf.Memo, logger: kopf.Logger,
                       **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_pool, runtime, dict(body), Lookups.of(kwargs))
    if not result.done:
        current = dict(body.get("status") or {})
        conditions = [Condition(READY, False, result.reason, result.message)]
        if result.reason is Reason.IN_USE:
            conditions.append(Condition("InUse", True, Reason.HOLDS_SERVERS, result.message))
        generation = int(body.get("metadata", {}).get("generation") or 0)
        await publish(body, PLURAL, current, new_status(current, conditions, generation, {}))
        raise kopf.TemporaryError(f"{result.reason}: {result.message}", delay=runtime.backoff.failed(uid))
    runtime.forget(uid)
    metrics.forget_pool(name)
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=result.reason, message=result.message)
