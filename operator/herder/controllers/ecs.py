"""ElasticCloudServer handlers: one long-lived daemon per ECS, woken by spec changes and backend drift.

The daemon sleeps until something changes (no periodic polling), takes one step, writes status only
when it changed, and follows any task it started. Deletion runs under herder's finalizer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import quantity_to_bytes
from herder.controllers.ecs_delete import delete_server
from herder.controllers.ecs_sync import sync_server
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import runtime_of
from herder.controllers.status import condition_in, publish

PLURAL = "elasticcloudservers"
KIND = "ElasticCloudServer"
CONDITION_EVENTS = ("Ready",)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30.0)
async def server_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                        **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    # This daemon is the only writer of the status: its own copy is never older than the watched body's,
    # so a pass that starts before our last patch comes back through the watch cannot repeat a step.
    status = dict(body.get("status") or {})
    try:
        while not stopped and not body.get("metadata", {}).get("deletionTimestamp"):
            started = time.perf_counter()
            outcome = await asyncio.to_thread(sync_server, runtime, {**body, "status": status}, lookups)
            status = await publish(body, PLURAL, status, outcome.status, events_for=CONDITION_EVENTS)
            metrics.observe_reconcile(KIND, metrics.RESULT_ERROR if outcome.failed else metrics.RESULT_SUCCESS,
                                      time.perf_counter() - started)
            _record(body, uid, status)
            runtime.record_identity(uid, status.get("uniqueID"))
            await runtime.sleep(uid, outcome.delay, stopped)
    finally:
        runtime.forget(uid)


def _record(body: kopf.Body, uid: str, status: dict[str, Any]) -> None:
    """Inventory gauges, and metering for chargeback: size x time, by namespace and zone."""
    meta = body.get("metadata", {})
    namespace, zone = meta.get("namespace", ""), status.get("zone") or ""
    ready = (condition_in(status, "Ready") or {}).get("status") == "True"
    power = status.get("powerState") or ""
    metrics.record_ecs((namespace, meta.get("name", "")), status.get("phase") or "Pending", power, zone, ready)
    if status.get("uniqueID"):
        disks = sum(quantity_to_bytes(d["size"]) for d in status.get("disks") or [])
        metrics.METERING.update(uid, namespace, zone, float(status.get("cpu") or 0),
                                float(quantity_to_bytes(status.get("memory") or 0)), float(disks), power == "On")


def _forget(body: kopf.Body, uid: str) -> None:
    meta = body.get("metadata", {})
    metrics.forget_ecs((meta.get("namespace", ""), meta.get("name", "")))
    metrics.METERING.forget(uid)


@kopf.on.event(GROUP, VERSION, PLURAL)
def server_event(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """Any change to the object (spec, annotations) wakes its daemon; its own status writes are no-ops."""
    runtime_of(memo).wake(uid)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def server_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_server, runtime, dict(body), Lookups.of(kwargs))
    if not result.done:
        raise kopf.TemporaryError(result.message, delay=result.delay)
    _forget(body, body.get("metadata", {}).get("uid", ""))
    logger.info(result.message)
    kopf.event(body, type="Normal", reason="Deleted", message=result.message)
