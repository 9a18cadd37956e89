"""Image and ClusterImage: one daemon per image finds, captures or imports its template and reports it.

- `existing`: the template is looked up by path or name; status shows what vCenter reports.
- `fromServer`: the ECS is cloned into a template named `img_<namespace>.<name>` (ClusterImage:
  `cimg_<name>`) whose instance UUID is the image's UID (see `image_capture`).
- `url`: an OVA is streamed into vCenter (see `herder.providers.vcenter.images`); `status.progress`
  shows the percentage while it runs.

`spec.frequentlyUsed` is mirrored to the label `herder.dev/frequently-used`. Deletion honours
`deletionPolicy` (default Orphan for `existing`, Delete otherwise); ECSs cloned from an image are
independent VMs and are never touched.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import kopf

from herder import GROUP, VERSION, kube
from herder.api.clusterimage import ClusterImage
from herder.api.common import DeletionPolicy
from herder.api.image import FREQUENTLY_USED_LABEL, Image, ImageFormat
from herder.controllers import image_capture
from herder.controllers.image_backend import available, images_of, images_on, locate, now, template_name
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import Backoff, Runtime, runtime_of
from herder.controllers.status import condition_in, new_status, publish
from herder.providers.base import ProviderError
from herder.providers.types import ImportFailed, TaskStatus
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import Unresolvable

log = logging.getLogger(__name__)
PLURALS = {"Image": "images", "ClusterImage": "clusterimages"}
#: Failures that cannot heal without a change (source is immutable): not retried until the spec changes.
FINAL_REASONS = frozenset({"ChecksumMismatch", "InvalidImage", "NotSupported"})
PROGRESS_PUBLISH_SECONDS = 1.0
WARM_UP_RETRY_SECONDS = 2.0
DELETE_WAIT_SECONDS = 60.0
_BACKOFF = Backoff(cap=30.0)


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    delay: float | None


@dataclass
class Progress:
    """Shared between the import thread and the daemon: the percentage, and a stop request."""

    percent: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def report(self, percent: int) -> bool:
        self.percent = percent
        return not self.stop.is_set()


def _model(kind: str, body: dict[str, Any]) -> Image | ClusterImage:
    return Image.model_validate(body) if kind == "Image" else ClusterImage.model_validate(body)


# -- one pass -------------------------------------------------------------------------------------------------

_LINUX_GUESTS = ("linux", "ubuntu", "debian", "centos", "rhel", "sles", "oracle", "fedora", "photon", "coreos",
                 "amazon", "rocky", "alma", "asianux", "mandr", "turbo", "suse", "opensuse")


def os_family(guest_id: str, declared: str) -> str:
    """Linux, Windows or Other from a vSphere/VMM guest ID; the declared family while the template has none."""
    guest = guest_id.lower()
    if not guest:
        return declared
    if guest.startswith("win") or "windows" in guest:
        return "Windows"
    return "Linux" if any(marker in guest for marker in _LINUX_GUESTS) else "Other"


def _without_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def source_used(image: Image | ClusterImage) -> dict[str, Any]:
    source = image.spec.source
    if source.existing is not None:
        return {"type": "existing", "reference": source.existing.path or source.existing.name or ""}
    if source.from_server is not None:
        namespace = source.from_server.namespace or image.metadata.namespace or ""
        return {"type": "fromServer", "reference": f"{namespace}/{source.from_server.name}"}
    assert source.url is not None
    return {"type": "url", "reference": _without_userinfo(source.url.url), "checksum": source.url.checksum}


def sync_image(runtime: Runtime, kind: str, body: dict[str, Any], lookups: Lookups,
               progress: Progress) -> Outcome:
    image = _model(kind, body)
    meta = image.metadata
    uid, generation = meta.uid or "", meta.generation or 0
    current = body.get("status") or {}
    source = image.spec.source

    def done(conditions: list[Condition], fields: dict[str, Any], delay: float | None) -> Outcome:
        if fields.get("phase") == "Available":
            fields = fields | {"source": source_used(image),
                               "osFamily": os_family(fields.get("guestID") or "", image.spec.os_family.value)}
        return Outcome(new_status(current, conditions, generation, fields), delay)

    ready = condition_in(current, READY)
    if (ready is not None and ready.get("reason") in FINAL_REASONS and ready.get("status") == "False"
            and current.get("observedGeneration") == generation):
        return Outcome(dict(current), None)  # a failure only a spec change can heal
    if _BACKOFF.holding(uid) and current.get("observedGeneration") == generation:
        return Outcome(dict(current), _BACKOFF.remaining(uid))  # woken early: the retry is not due yet
    try:
        if source.existing is not None:
            handle, provider, _ = locate(runtime, image, lookups)
            wanted = source.existing.path or source.existing.name or ""
            info = images_on(handle, provider).find_template(wanted)
            if info is None:
                raise Unresolvable("TemplateNotFound", f"template {wanted!r} not found on {provider['kind']} "
                                   f"{provider['name']}")
            conditions, fields = available(info, provider)
        elif source.from_server is not None:
            conditions, fields, delay = image_capture.capture(runtime, kind, image, lookups, current)
            _BACKOFF.succeeded(uid)
            return done(conditions, fields, delay)
        else:
            assert source.url is not None
            conditions, fields = _import(runtime, kind, image, lookups, progress)
    except (Unresolvable, ProviderError, ImportFailed) as exc:
        if exc.reason == "ProviderNotReady" and runtime.warming_up():
            return Outcome(dict(current), WARM_UP_RETRY_SECONDS)
        final = exc.reason in FINAL_REASONS
        delay = None if final else _BACKOFF.failed(uid)
        log.info("%s %s: %s: %s%s", kind, meta.name, exc.reason, exc, "" if final else f" (retry in {delay:.0f}s)")
        fields = {"phase": "Failed" if final or isinstance(exc, ImportFailed) else "Pending", "progress": None}
        # A capture's clone task is followed until it ends (CaptureFailed); an import's lease ends with it.
        if exc.reason == "CaptureFailed" or source.from_server is None:
            fields["pendingTask"] = None
        return done([Condition(READY, False, exc.reason, str(exc))], fields, delay)
    _BACKOFF.succeeded(uid)
    return done(conditions, fields, None)


def _import(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
            progress: Progress) -> tuple[list[Condition], dict[str, Any]]:
    source = image.spec.source.url
    assert source is not None
    meta = image.metadata
    handle, provider, where = locate(runtime, image, lookups)
    images = images_on(handle, provider)
    fmt = source.format or (ImageFormat.VHDX if source.url.lower().split("?")[0].endswith(".vhdx") else
                            ImageFormat.OVF if source.url.lower().split("?")[0].endswith(".ovf") else ImageFormat.OVA)
    if fmt is ImageFormat.VHDX:
        raise Unresolvable("NotSupported", f"{provider['kind']} {provider['name']}: VHDX imports are for SCVMM, "
                           "which herder does not import images into yet; use OVA or OVF")
    name = template_name(kind, meta.namespace, meta.name or "")
    info = images.import_ovf(source.url, source.checksum, name, meta.uid or "", where,
                             packaged=fmt is ImageFormat.OVA, progress=progress.report)
    return available(info, provider)


# -- handlers -------------------------------------------------------------------------------------------------

def _importing(current: dict[str, Any], generation: int, percent: int, url: str) -> dict[str, Any]:
    pending = current.get("pendingTask") or {"id": "nfc", "operation": "import", "startedAt": now()}
    return new_status(current, [Condition(READY, False, "Importing", f"importing {url}: {percent}%")], generation,
                      {"phase": "Importing", "progress": percent, "pendingTask": pending})


async def _mirror_label(kind: str, body: kopf.Body, mirrored: list[str]) -> None:
    """spec.frequentlyUsed -> the herder.dev/frequently-used label; a patch only when it differs."""
    wanted = "true" if (body.get("spec") or {}).get("frequentlyUsed") else "false"
    meta = body.get("metadata", {})
    if (meta.get("labels") or {}).get(FREQUENTLY_USED_LABEL) == wanted or (mirrored and mirrored[-1] == wanted):
        return
    await asyncio.to_thread(kube.patch_labels, PLURALS[kind], meta.get("namespace"), meta["name"],
                            {FREQUENTLY_USED_LABEL: wanted})
    mirrored.append(wanted)


async def _run(kind: str, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo, *,
               kwargs: dict[str, Any]) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    plural = PLURALS[kind]
    status = dict(body.get("status") or {})
    mirrored: list[str] = []
    try:
        while not stopped and not body.get("metadata", {}).get("deletionTimestamp"):
            await _mirror_label(kind, body, mirrored)
            progress = Progress()
            work = asyncio.ensure_future(asyncio.to_thread(
                sync_image, runtime, kind, {**body, "status": status}, lookups, progress))
            shown: int | None = None
            url = ((body.get("spec") or {}).get("source") or {}).get("url") or {}
            while not work.done():
                await asyncio.wait({work}, timeout=PROGRESS_PUBLISH_SECONDS)
                if stopped or body.get("metadata", {}).get("deletionTimestamp"):
                    progress.stop.set()
                if progress.percent is not None and progress.percent != shown and not work.done():
                    shown = progress.percent
                    generation = int(body.get("metadata", {}).get("generation") or 0)
                    status = await publish(body, plural, status,
                                           _importing(status, generation, shown, url.get("url", "")))
            outcome = work.result()
            status = await publish(body, plural, status, outcome.status)
            await runtime.sleep(uid, outcome.delay, stopped)
    finally:
        runtime.forget(uid)
        _BACKOFF.succeeded(uid)
        image_capture.forget(uid)


@kopf.daemon(GROUP, VERSION, "images", cancellation_timeout=60.0)
async def image_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                       **kwargs: Any) -> None:
    await _run("Image", body, uid, stopped, memo, kwargs=kwargs)


@kopf.daemon(GROUP, VERSION, "clusterimages", cancellation_timeout=60.0)
async def cluster_image_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                               **kwargs: Any) -> None:
    await _run("ClusterImage", body, uid, stopped, memo, kwargs=kwargs)


@kopf.on.event(GROUP, VERSION, "images")
@kopf.on.event(GROUP, VERSION, "clusterimages")
def image_event(*, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """A spec change (a new generation) wakes the daemon; its own status and label writes do not."""
    status = body.get("status") or {}
    if body.get("metadata", {}).get("generation") != status.get("observedGeneration"):
        runtime_of(memo).wake(uid)


def delete_image(runtime: Runtime, kind: str, body: dict[str, Any], lookups: Lookups) -> str:
    """Honour deletionPolicy. Returns what happened; raises kopf.TemporaryError to retry."""
    image = _model(kind, body)
    source = image.spec.source
    policy = image.spec.deletion_policy or (DeletionPolicy.ORPHAN if source.existing else DeletionPolicy.DELETE)
    status = image.status
    # Templates herder made carry the image's UID; an adopted one is known by its recorded UUID only.
    identity = status.unique_id if source.existing else (status.unique_id or image.metadata.uid)
    try:
        server = image_capture.source_server(image) if source.from_server is not None else None
        if source.from_server is not None:
            image_capture.end_capture(runtime, kind, image, lookups, server)
        if policy is DeletionPolicy.ORPHAN:
            return f"deletionPolicy Orphan: template {status.path or '-'} left in place"
        if not identity:
            return "no template to delete"
        images = images_of(runtime, image, lookups, server)
        task = images.destroy_template(identity)
        for _ in range(int(DELETE_WAIT_SECONDS / 0.5)):
            result = images.task(task)
            if result.status is TaskStatus.FAILED:
                raise ProviderError(f"delete template {identity}: {result.error}")
            if result.status is not TaskStatus.RUNNING:
                return f"template {status.path or identity} deleted"
            time.sleep(0.5)
        raise ProviderError(f"delete template {identity}: still running")
    except Unresolvable as exc:
        if exc.reason == "NotSupported":
            return str(exc)
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=10) from None
    except ProviderError as exc:
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=10) from None


@kopf.on.delete(GROUP, VERSION, "images")
@kopf.on.delete(GROUP, VERSION, "clusterimages")
async def image_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, resource: kopf.Resource,
                        **kwargs: Any) -> None:
    kind = "Image" if resource.plural == "images" else "ClusterImage"
    message = await asyncio.to_thread(delete_image, runtime_of(memo), kind, dict(body), Lookups.of(kwargs))
    logger.info(message)


__all__ = ["delete_image", "sync_image"]
