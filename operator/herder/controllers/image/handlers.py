"""Image and ClusterImage handlers: one daemon per image finds, captures or imports its template and reports
it (`status.progress` while an import runs); `spec.frequentlyUsed` is mirrored to the label
`herder.dev/frequently-used`; deletion honours `deletionPolicy`."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, kube
from herder.api.image import FREQUENTLY_USED_LABEL
from herder.controllers.image import capture
from herder.controllers.image.delete import delete_image
from herder.controllers.image.sync import BACKOFF, KINDS, image_failed, importing, sync_image
from herder.controllers.shared.daemon import Daemon, Pass, Progress
from herder.controllers.shared.indexes import Lookups, dependency_changed
from herder.controllers.shared.runtime import runtime_of
from herder.errors import HerderError
from herder.reconcile.quota import Usage, image_usage


@kopf.index(GROUP, VERSION, "images")
def image_index(*, namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    return {(namespace or "", name): dict(body)}


@kopf.index(GROUP, VERSION, "images")
def image_usage_index(*, namespace: str | None, uid: str, status: kopf.Status,
                      **_: Any) -> dict[str, tuple[str, Usage]]:
    """{namespace: (Image UID, what it takes)}: private images count against the namespace's ServerQuotas."""
    return {namespace or "": (uid, image_usage(status))}


@kopf.index(GROUP, VERSION, "clusterimages")
def cluster_image_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {name: dict(body)}


def _mirror_label(plural: str, body: dict[str, Any], mirrored: list[str]) -> None:
    """spec.frequentlyUsed -> the herder.dev/frequently-used label; a patch only when it differs (from the
    label as watched, and from what this daemon last wrote: the watch may not have caught up)."""
    wanted = "true" if (body.get("spec") or {}).get("frequentlyUsed") else "false"
    meta = body.get("metadata", {})
    if (meta.get("labels") or {}).get(FREQUENTLY_USED_LABEL) == wanted or mirrored[-1:] == [wanted]:
        return
    kube.patch_labels(plural, meta.get("namespace"), meta["name"], {FREQUENTLY_USED_LABEL: wanted})
    mirrored.append(wanted)


@kopf.daemon(GROUP, VERSION, "images", cancellation_timeout=60.0)
@kopf.daemon(GROUP, VERSION, "clusterimages", cancellation_timeout=60.0)
async def image_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                       resource: kopf.Resource, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    kind = KINDS[resource.plural]
    mirrored: list[str] = []

    def step(current: dict[str, Any], progress: Progress) -> Pass:
        _mirror_label(resource.plural, current, mirrored)
        return sync_image(runtime, kind, current, lookups, progress)

    daemon = Daemon(kind, resource.plural, step=step,
                    on_error=lambda current, exc: image_failed(kind, current, exc),
                    show_progress=lambda status, percent: importing(status, dict(body), percent))
    try:
        await daemon.run(body, uid, runtime, stopped)
    finally:
        BACKOFF.succeeded(uid)
        capture.forget(uid)


@kopf.on.event(GROUP, VERSION, "images")
@kopf.on.event(GROUP, VERSION, "clusterimages")
def image_event(*, type: str | None, body: kopf.Body, namespace: str | None, uid: str, memo: kopf.Memo,
                **kwargs: Any) -> None:
    """A spec change (a new generation) wakes the daemon; its own status and label writes do not. Servers
    waiting for the image are woken by a change that matters to them; a private image's ServerQuotas re-read
    their use."""
    runtime = runtime_of(memo)
    status = body.get("status") or {}
    if body.get("metadata", {}).get("generation") != status.get("observedGeneration"):
        runtime.wake(uid)
    dependency_changed(runtime, type, uid, body)
    if namespace:
        for quota in Lookups.of(kwargs).quota_uids(namespace):
            runtime.wake(quota)


@kopf.on.delete(GROUP, VERSION, "images")
@kopf.on.delete(GROUP, VERSION, "clusterimages")
async def image_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, resource: kopf.Resource,
                        **kwargs: Any) -> None:
    try:
        message = await asyncio.to_thread(delete_image, runtime_of(memo), KINDS[resource.plural], dict(body),
                                          Lookups.of(kwargs))
    except HerderError as exc:
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=10) from None
    logger.info(message)
    runtime = runtime_of(memo)
    meta = body.get("metadata") or {}
    if meta.get("namespace"):
        for waiting in runtime.ledger.release(meta["namespace"], meta.get("uid", "")):
            runtime.wake(waiting)  # its share of the quota is free
