"""ElasticCloudServer handlers: one long-lived daemon per ECS, woken by spec changes and backend drift.

The daemon sleeps until something changes (no periodic polling), takes one step, writes status only
when it changed, and follows any task it started. Deletion runs under herder's finalizer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.controllers.ecs import billing
from herder.controllers.ecs.delete import delete_server
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups, image_key
from herder.controllers.shared.runtime import runtime_of
from herder.controllers.shared.status import condition_in
from herder.errors import HerderError
from herder.reasons import Reason
from herder.reconcile.metering import from_status
from herder.reconcile.quota import Usage, server_usage
from herder.reconcile.zone import pending_memory

PLURAL = "elasticcloudservers"
KIND = "ElasticCloudServer"


@kopf.on.startup()
async def load_billing(**_: Any) -> None:
    """What servers deleted before this start used: the counters carry on where they were."""
    try:
        metrics.METERING.load_deleted(await asyncio.to_thread(billing.load))
    except HerderError as exc:
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=1) from None


@kopf.index(GROUP, VERSION, PLURAL)
def server_zone_index(*, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, int]:
    """{zone: memory MiB it is about to take} per ECS that has a zone (see `pending_memory`)."""
    return pending_memory(spec, status)


@kopf.index(GROUP, VERSION, PLURAL)
def pool_user_index(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    """{ResourcePool name: "namespace/name"} per ECS that names a pool: a pool is not deleted under them. Empty
    (not None, which would keep the entry) once it names none."""
    pool = spec.get("resourcePool")
    return {str(pool): f"{namespace}/{name}"} if pool else {}


@kopf.index(GROUP, VERSION, PLURAL)
def server_claim_index(*, uid: str, status: kopf.Status, **_: Any) -> dict[str, str]:
    """{VM unique ID: ECS UID} for the VMs an ECS claims: its own UID (the identity of a VM herder made for it)
    and the VM it recorded. Adoption refuses a VM another ECS claims."""
    recorded = status.get("uniqueID")
    return {uid: uid} | ({str(recorded): uid} if recorded else {})


@kopf.index(GROUP, VERSION, PLURAL)
def server_usage_index(*, namespace: str | None, uid: str, spec: kopf.Spec, status: kopf.Status,
                       **_: Any) -> dict[str, tuple[str, Usage]]:
    """{namespace: (ECS UID, what it takes)}, by its stored status: the ServerQuota accounting's ground truth."""
    return {namespace or "": (uid, server_usage(spec, status))}


@kopf.index(GROUP, VERSION, PLURAL)
def image_user_index(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    """{image key: "namespace/name"} per ECS made from an image: deleting the image reports who used it. Empty,
    never None, for one made otherwise: Kopf keeps an object's previous entries when its index handler returns
    None."""
    image = spec.get("image") or {}
    if not image.get("name"):
        return {}
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
    record = from_status(status.get("metering"))
    if record is not None:
        metrics.METERING.update(uid, namespace, zone, record)


@kopf.on.event(GROUP, VERSION, PLURAL)
def server_event(*, body: kopf.Body, namespace: str | None, uid: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Any change to the object (spec, annotations) wakes its daemon; its own status writes are no-ops. A set's
    child wakes its set too, and the namespace's ServerQuotas re-read their use."""
    runtime = runtime_of(memo)
    runtime.wake(uid)
    for owner in body.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == "ElasticCloudServerSet":
            runtime.wake(owner["uid"])
    for quota in Lookups.of(kwargs).quota_uids(namespace or ""):
        runtime.wake(quota)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def server_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_server, runtime, dict(body), Lookups.of(kwargs))
    if not result.done:
        raise kopf.TemporaryError(result.message, delay=result.delay)
    meta, status = body.get("metadata", {}), dict(body.get("status") or {})
    try:  # what it used stays billed to its namespace
        await asyncio.to_thread(billing.fold, meta.get("uid", ""), meta.get("namespace", ""), status.get("zone") or "",
                                status)
    except HerderError as exc:
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=1) from None
    metrics.forget_ecs((meta.get("namespace", ""), meta.get("name", "")))
    metrics.METERING.forget(meta.get("uid", ""))
    for waiting in runtime.ledger.release(meta.get("namespace", ""), meta.get("uid", "")):
        runtime.wake(waiting)  # its share of the quota is free
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=Reason.DELETED, message=result.message)
