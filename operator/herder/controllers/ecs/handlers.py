"""ElasticCloudServer handlers: one long-lived daemon per ECS, woken by spec changes and backend drift.

The daemon sleeps until something changes (no periodic polling), takes one step, writes status only
when it changed, and follows any task it started. Deletion runs under herder's finalizer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import quantity_to_bytes
from herder.controllers.ecs.delete import delete_server
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups, image_key
from herder.controllers.shared.runtime import runtime_of
from herder.controllers.shared.status import condition_in
from herder.reasons import Reason
from herder.reconcile.zone import pending_memory

PLURAL = "elasticcloudservers"
KIND = "ElasticCloudServer"


@kopf.index(GROUP, VERSION, PLURAL)
def server_zone_index(*, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, int] | None:
    """{zone: memory MiB it is about to take} per ECS that has a zone (see `pending_memory`)."""
    return pending_memory(spec, status)


@kopf.index(GROUP, VERSION, PLURAL)
def pool_user_index(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, str] | None:
    """{ResourcePool name: "namespace/name"} per ECS that names a pool: a pool is not deleted under them."""
    pool = spec.get("resourcePool")
    return {str(pool): f"{namespace}/{name}"} if pool else None


@kopf.index(GROUP, VERSION, PLURAL)
def image_user_index(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, str] | None:
    """{image key: "namespace/name"} per ECS made from an image: deleting the image reports who used it."""
    image = spec.get("image") or {}
    if not image.get("name"):
        return None
    return {image_key(str(image.get("kind") or "Image"), namespace, str(image["name"])): f"{namespace}/{name}"}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30.0)
async def server_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                        **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)

    def after(status: dict[str, Any]) -> None:
        _record(body, uid, status)
        runtime.record_identity(uid, status.get("uniqueID"))

    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_server(runtime, current, lookups),
                    on_error=lambda current, exc: server_failed(runtime, current, exc), after=after)
    await daemon.run(body, uid, runtime, stopped)


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


@kopf.on.event(GROUP, VERSION, PLURAL)
def server_event(*, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """Any change to the object (spec, annotations) wakes its daemon; its own status writes are no-ops. A set's
    child wakes its set too."""
    runtime = runtime_of(memo)
    runtime.wake(uid)
    for owner in body.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == "ElasticCloudServerSet":
            runtime.wake(owner["uid"])


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def server_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_server, runtime, dict(body), Lookups.of(kwargs))
    if not result.done:
        raise kopf.TemporaryError(result.message, delay=result.delay)
    meta = body.get("metadata", {})
    metrics.forget_ecs((meta.get("namespace", ""), meta.get("name", "")))
    metrics.METERING.forget(meta.get("uid", ""))
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=Reason.DELETED, message=result.message)
