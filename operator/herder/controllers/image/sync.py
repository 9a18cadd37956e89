"""One pass over an Image or ClusterImage: find, capture or import its template, as its planner says
(herder.reconcile.image), and report it."""

from __future__ import annotations

import logging
from typing import Any

from herder.api.clusterimage import ClusterImage
from herder.api.image import Image, ImageFormat
from herder.controllers.image import capture
from herder.controllers.image.backend import locate, now
from herder.controllers.shared.backoff import Backoff
from herder.controllers.shared.daemon import Pass, Progress
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.ledger import Ledger
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import condition_in, new_status
from herder.errors import HerderError, ImportFailed, NotSupported, QuotaExceeded, Unresolvable
from herder.providers.types import Operation
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.image import (
    DISK_FORMATS,
    SourceStep,
    available,
    failure,
    image_format,
    next_step,
    os_family,
    source_used,
    template_name,
    unimportable,
)
from herder.reconcile.quota import Usage

log = logging.getLogger(__name__)
KINDS = {"images": "Image", "clusterimages": "ClusterImage"}
BACKOFF = Backoff(cap=30.0)


def model(kind: str, body: dict[str, Any]) -> Image | ClusterImage:
    return Image.model_validate(body) if kind == "Image" else ClusterImage.model_validate(body)


def _status(image: Image | ClusterImage, current: dict[str, Any], conditions: list[Condition],
            fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("phase") == "Available":
        fields = fields | {"source": source_used(image),
                           "osFamily": os_family(fields.get("guestID") or "", image.spec.os_family.value)}
    return new_status(current, conditions, image.metadata.generation or 0, fields)


def sync_image(runtime: Runtime, kind: str, body: dict[str, Any], lookups: Lookups, progress: Progress) -> Pass:
    image = model(kind, body)
    uid, generation = image.metadata.uid or "", image.metadata.generation or 0
    current = body.get("status") or {}
    ready = condition_in(current, READY)
    failed_now = (ready is not None and ready.get("status") == "False"
                  and current.get("observedGeneration") == generation)
    step = next_step(image.spec.source, Reason.parse((ready or {}).get("reason")), failed_now,
                     retry_due=not BACKOFF.holding(uid))
    if step is SourceStep.STANDS:
        return Pass(dict(current), None)  # a failure only a spec change can heal
    if step is SourceStep.HELD:
        return Pass(dict(current), BACKOFF.remaining(uid))  # woken early: the retry is not due yet
    delay: float | None = None
    admit(runtime.ledger, kind, image, lookups)
    if step is SourceStep.FIND:
        conditions, fields = _find(runtime, kind, image, lookups)
    elif step is SourceStep.CAPTURE:
        conditions, fields, delay = capture.capture(runtime, kind, image, lookups, current)
    else:
        conditions, fields = _import(runtime, kind, image, lookups, progress)
    BACKOFF.succeeded(uid)
    return Pass(_status(image, current, conditions, fields), delay)


def admit(ledger: Ledger, kind: str, image: Image | ClusterImage, lookups: Lookups) -> None:
    """A private image takes one of its namespace's images (ServerQuota) before its template is made or found;
    raises QuotaExceeded when none is left. Public images (ClusterImage) count against no namespace. `ledger`:
    the operator's (with its grants), or a fresh one for herder plan (stored status alone)."""
    namespace = image.metadata.namespace
    if kind != "Image" or not namespace:
        return
    refused = ledger.admit(namespace, image.metadata.uid or "", Usage(images=1),
                                   lookups.namespace_quotas(namespace), lookups.namespace_usage(namespace))
    if refused:
        raise QuotaExceeded(f"{refused}; no template was made. Delete an Image, or ask for a larger ServerQuota")


def image_failed(kind: str, body: dict[str, Any], exc: HerderError) -> Pass:
    image = model(kind, body)
    uid = image.metadata.uid or ""
    what = failure(exc.reason, image.spec.source, import_failed=isinstance(exc, ImportFailed))
    delay = BACKOFF.failed(uid) if what.retry else None
    log.info("%s %s: %s: %s%s", kind, image.metadata.name, exc.reason, exc,
             f" (retry in {delay:.0f}s)" if delay is not None else "")
    fields: dict[str, Any] = {"phase": what.phase, "progress": None}
    if what.forget_task:
        fields["pendingTask"] = None
    status = _status(image, body.get("status") or {}, [Condition(READY, False, exc.reason, str(exc))], fields)
    return Pass(status, delay, failed=True)


def _find(runtime: Runtime, kind: str, image: Image | ClusterImage,
          lookups: Lookups) -> tuple[list[Condition], dict[str, Any]]:
    existing = image.spec.source.existing
    assert existing is not None
    handle, provider, _ = locate(runtime, image, lookups)
    wanted = existing.path or existing.name or ""
    meta = image.metadata
    info = handle.provider.images.adopt_template(wanted, template_name(kind, meta.namespace, meta.name or ""),
                                                 meta.uid or "", image.spec.os_family.value)
    if info is None:
        raise Unresolvable(Reason.TEMPLATE_NOT_FOUND, f"template {wanted!r} not found on {provider['kind']} "
                           f"{provider['name']}")
    return available(info, provider)


def _import(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
            progress: Progress) -> tuple[list[Condition], dict[str, Any]]:
    source = image.spec.source.url
    assert source is not None
    meta = image.metadata
    handle, provider, where = locate(runtime, image, lookups)
    fmt = import_format(image, provider)
    name = template_name(kind, meta.namespace, meta.name or "")
    images = handle.provider.images
    if fmt in DISK_FORMATS:
        info = images.import_disk(source.url, source.checksum, name, meta.uid or "", where,
                                  os_family=image.spec.os_family.value, progress=progress.report)
    else:
        info = images.import_ovf(source.url, source.checksum, name, meta.uid or "", where,
                                 packaged=fmt is ImageFormat.OVA, progress=progress.report)
    return available(info, provider)


def import_format(image: Image | ClusterImage, provider: dict[str, str]) -> ImageFormat:
    """The format of a `url` source, one its provider imports (reconcile.image.unimportable); NotSupported
    otherwise."""
    source = image.spec.source.url
    assert source is not None
    fmt = image_format(source.url, source.format)
    why = unimportable(fmt, provider["kind"])
    if why is not None:
        raise NotSupported(f"{provider['kind']} {provider['name']}: {why}")
    return fmt


def importing(current: dict[str, Any], body: dict[str, Any], percent: int) -> dict[str, Any]:
    """The status while an import runs: its progress and the lease as the task in flight."""
    url = ((body.get("spec") or {}).get("source") or {}).get("url") or {}
    pending = current.get("pendingTask") or {"id": "nfc", "operation": Operation.IMPORT.value, "startedAt": now()}
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    message = f"importing {url.get('url', '')}: {percent}%"
    return new_status(current, [Condition(READY, False, Reason.IMPORTING, message)], generation,
                      {"phase": "Importing", "progress": percent, "pendingTask": pending})
