"""An Image's or ClusterImage's plan: the step its source asks for (`reconcile.image.next_step`), looked at
where the image controller would look (`controllers.image.backend.where`): a template to use, a file to import,
a server to capture, unless the template is already there."""

from __future__ import annotations

from typing import Any

from herder.api.clusterimage import ClusterImage
from herder.api.common import DeletionPolicy
from herder.api.image import ExistingSource, Image
from herder.controllers.image.backend import where
from herder.controllers.image.sync import admit, import_format, model
from herder.controllers.shared.ledger import Ledger
from herder.controllers.shared.status import condition_in
from herder.errors import HerderError, NotSupported, QuotaExceeded, Unresolvable
from herder.plan.context import Context, Outcome, unresolved
from herder.plan.model import Do, Step
from herder.providers.base import ImageReads
from herder.providers.download import without_userinfo
from herder.reasons import Reason
from herder.reconcile.conditions import READY
from herder.reconcile.image import (
    SourceStep,
    capture_words,
    deletion_policy,
    import_words,
    next_step,
    size_text,
    template_name,
    uncapturable,
)


def _done(body: dict[str, Any]) -> bool:
    """The image controller has made or found the template for this very generation."""
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    return status.get("phase") == "Available" and status.get("observedGeneration") == generation


def _images(ctx: Context, body: dict[str, Any], kind: str) -> tuple[ImageReads, dict[str, str]]:
    image = model(kind, body)
    server_zone = None
    source = image.spec.source.from_server
    if source is not None:
        server = ctx.world.get(("ElasticCloudServer", source.namespace or image.metadata.namespace, source.name))
        server_zone = ((server or {}).get("status") or {}).get("zone") or ((server or {}).get("spec") or {}).get(
            "availabilityZone")
    provider, _ = where(image, ctx.world.lookups, server_zone)
    return ctx.backends.reads(provider["kind"], provider["name"]).images, provider


def plan_image(ctx: Context, kind: str, body: dict[str, Any]) -> Outcome:
    image = model(kind, body)
    status = body.get("status") or {}
    ready = condition_in(status, READY)
    failed_now = (ready is not None and ready.get("status") == "False"
                  and status.get("observedGeneration") == image.metadata.generation)
    step = next_step(image.spec.source, Reason.parse((ready or {}).get("reason")), failed_now, retry_due=True)
    if step is SourceStep.STANDS:
        return Outcome(steps=[Step(Do.BLOCKED, f"failed for this generation ({ready and ready.get('message')}); "
                                   "only a change of its spec makes herder try again",
                                   reason=str((ready or {}).get("reason")))])
    if _done(body) and step is not SourceStep.FIND:
        return Outcome()
    try:
        admit(Ledger(), kind, image, ctx.world.lookups)  # a fresh ledger: by stored status, as the operator counts
    except QuotaExceeded as exc:
        return Outcome(steps=[Step(Do.BLOCKED, str(exc), reason=exc.reason.value)])
    try:
        images, provider = _images(ctx, body, kind)
        on = f"{provider['kind']} {provider['name']}"
        if step is SourceStep.FIND:
            assert image.spec.source.existing is not None
            name = template_name(kind, image.metadata.namespace, image.metadata.name or "")
            return _find(image.spec.source.existing, images, on, body, name)
        name = template_name(kind, image.metadata.namespace, image.metadata.name or "")
        if image.metadata.uid and images.find_template(image.metadata.uid) is not None:
            return Outcome(notes=[f"template {name} is already on {on}"])
        if step is SourceStep.IMPORT:
            url = image.spec.source.url
            assert url is not None
            fmt = import_format(image, provider)
            return Outcome(steps=[Step(Do.IMPORT, import_words(fmt, url.url, name, on),
                                       details={"template": name, "format": fmt.value,
                                                "url": without_userinfo(url.url)})])
        return _capture(ctx, image, name, provider)
    except HerderError as exc:
        return unresolved(exc)


def _find(existing: ExistingSource, images: ImageReads, on: str, body: dict[str, Any], name: str) -> Outcome:
    wanted = existing.path or existing.name or ""
    try:
        info = images.find_template(wanted)
    except NotSupported as exc:  # the ECS then clones it by name as given (controllers.image.access)
        return Outcome(notes=[f"template {wanted!r} is used by name as given ({exc})"])
    uid = (body.get("metadata") or {}).get("uid")
    made = images.find_template(uid) if info is None and uid else None  # made of a library disk before
    if info is None and made is None:
        disk = images.find_disk(wanted)
        if disk is None:
            raise Unresolvable(Reason.TEMPLATE_NOT_FOUND, f"template {wanted!r} not found on {on}")
        return Outcome(steps=[Step(Do.USE_TEMPLATE, f"give library disk {disk.path} ({size_text(disk.size_bytes)}) "
                                   f"a template of its own, {name}, on {on} (the disk is used as it is), and use it",
                                   details={"template": name, "disk": disk.path})])
    info = info or made
    assert info is not None
    if _done(body) and (body.get("status") or {}).get("uniqueID") == info.unique_id:
        return Outcome()
    return Outcome(steps=[Step(Do.USE_TEMPLATE, f"use template {info.path} ({info.unique_id}) on {on}",
                               details={"template": info.path})])


def _capture(ctx: Context, image: Image | ClusterImage, name: str, provider: dict[str, str]) -> Outcome:
    source = image.spec.source.from_server
    assert source is not None
    namespace = source.namespace or image.metadata.namespace or ""
    if ctx.world.get(("ElasticCloudServer", namespace, source.name)) is None:
        raise Unresolvable(Reason.SERVER_NOT_FOUND, f"ElasticCloudServer {namespace}/{source.name} not found")
    on = f"{provider['kind']} {provider['name']}"
    refused = uncapturable(source.power_policy, provider["kind"])
    if refused is not None:
        raise NotSupported(f"{on}: {refused}")
    policy = source.power_policy.value
    stop = ("" if policy == "Live" else f"; it stops the server first (powerPolicy {policy}) and gives it its "
            "power state back afterwards")
    server = f"{namespace}/{source.name}"
    return Outcome(steps=[Step(Do.CAPTURE, capture_words(provider["kind"], server, name, on) + stop,
                               details={"template": name, "server": server, "powerPolicy": policy})])


def image_deletion(ctx: Context, kind: str, body: dict[str, Any]) -> Outcome:
    """What deleting the image does to its template (`reconcile.image.deletion_policy`); servers cloned from it
    are independent VMs and are never touched."""
    image = model(kind, body)
    status = image.status
    identity = status.unique_id if image.spec.source.existing else (status.unique_id or image.metadata.uid)
    users = ctx.world.lookups.image_dependents(kind, image.metadata.namespace, image.metadata.name or "")
    notes = [f"ECS {', '.join(users)} made from it keep their VMs"] if users else []
    if deletion_policy(image) is DeletionPolicy.ORPHAN:
        return Outcome(steps=[Step(Do.KEEP_TEMPLATE, f"leave template {status.path or '-'} in place "
                                   "(deletionPolicy Orphan); what herder made only to use it goes (SCVMM: the "
                                   "template of an adopted library disk, a capture's leftover clone)")], notes=notes)
    if not identity or not status.path:
        return Outcome(notes=["no template to delete", *notes])
    return Outcome(steps=[Step(Do.DELETE_TEMPLATE, f"delete template {status.path} ({identity}); servers cloned "
                               "from it are not touched", details={"template": status.path})], notes=notes)

