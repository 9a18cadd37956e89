"""Image and ClusterImage: one daemon per image finds, captures or imports its template and reports it.

- `existing`: the template is looked up by path or name; status shows what vCenter reports.
- `fromServer`: the ECS is cloned into a template named `img_<namespace>.<name>` (ClusterImage:
  `cimg_<name>`) whose instance UUID is the image's UID; the clone task is recorded in
  `status.pendingTask` and followed. Before any capture the template is looked up by that identity, so a
  capture that ran before a crash is never repeated. A consistent capture (powerPolicy GuestShutdown or
  PowerOff) asks the ECS controller to stop the server first (`capture_hold`) and gives it back after.
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
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION, kube
from herder.api import format_mib
from herder.api.clusterimage import ClusterImage
from herder.api.common import DeletionPolicy
from herder.api.image import FREQUENTLY_USED_LABEL, CapturePowerPolicy, Image, ImageFormat
from herder.api.zone import AvailabilityZone
from herder.controllers import capture_hold
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import Backoff, ProviderHandle, Runtime, runtime_of
from herder.controllers.status import new_status, publish
from herder.providers.base import Images, ProviderError
from herder.providers.types import (
    ImportFailed,
    Placement,
    PowerState,
    TaskRef,
    TaskStatus,
    TemplateInfo,
    VCenterPlacement,
)
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import CaptureHold, Unresolvable, zone_placement

log = logging.getLogger(__name__)
PLURALS = {"Image": "images", "ClusterImage": "clusterimages"}
#: Failures that cannot heal without a change (source is immutable): not retried until the spec changes.
FINAL_REASONS = frozenset({"ChecksumMismatch", "InvalidImage", "NotSupported"})
TASK_POLL_SECONDS = 1.0
STOP_POLL_SECONDS = 2.0  # while the ECS controller stops the source server for a capture
PROGRESS_PUBLISH_SECONDS = 1.0
WARM_UP_RETRY_SECONDS = 2.0
DELETE_WAIT_SECONDS = 60.0
GIB = 1024**3
MIB = 1024**2
_BACKOFF = Backoff(cap=30.0)
# After a consistent capture failed and gave its server back, the server runs at least this long before the
# retry stops it again: a failure that persists must not power-cycle a server every backoff.
# It doubles with every failure in a row, up to RESTOP_MAX_SECONDS.
RESTOP_SECONDS = 300.0
RESTOP_MAX_SECONDS = 6 * 3600.0
_given_back: dict[str, tuple[float, str, int]] = {}  # image UID -> (time.monotonic() of the last give-back, why,
#                                                       failures in a row)


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


def template_name(kind: str, namespace: str | None, name: str) -> str:
    """Unique per image and never an ECS's VM name (`<namespace>.<name>`): `_` is not valid in a namespace."""
    return f"img_{namespace}.{name}" if kind == "Image" else f"cimg_{name}"


def _model(kind: str, body: dict[str, Any]) -> Image | ClusterImage:
    return Image.model_validate(body) if kind == "Image" else ClusterImage.model_validate(body)


def _size(size_bytes: int) -> str:
    if size_bytes and size_bytes % GIB == 0:
        return f"{size_bytes // GIB}Gi"
    if size_bytes % MIB == 0:
        return format_mib(size_bytes // MIB)
    return str(size_bytes)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- where the image lives ------------------------------------------------------------------------------------

def _zone(lookups: Lookups, name: str) -> AvailabilityZone:
    body = lookups.zone(name)
    if body is None:
        raise Unresolvable("ZoneNotFound", f"AvailabilityZone {name} not found")
    return AvailabilityZone.model_validate(body)


def _zone_placement(zone: AvailabilityZone, datacenter: str) -> Placement:
    if zone.spec.vcenter is None:
        raise Unresolvable("NotSupported", f"AvailabilityZone {zone.metadata.name} is not a vCenter zone")
    return zone_placement(zone, datacenter)


def _locate(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
            server_zone: str | None = None) -> tuple[ProviderHandle, dict[str, str], Placement]:
    """(the connection, the provider reference for status, where new templates go)."""
    spec = image.spec
    zone_name = spec.availability_zone or (server_zone if spec.provider is None else None)
    if zone_name:
        zone = _zone(lookups, zone_name)
        ref = zone.spec.provider
        handle = runtime.ready_provider(ref.kind.value, ref.name)
        return handle, {"kind": ref.kind.value, "name": ref.name}, _zone_placement(zone, handle.datacenter)
    if spec.provider is None:
        raise Unresolvable("ZoneNotFound", "spec: set provider or availabilityZone (the server has no zone yet)")
    handle = runtime.ready_provider(spec.provider.kind.value, spec.provider.name)
    return (handle, {"kind": spec.provider.kind.value, "name": spec.provider.name},
            VCenterPlacement(datacenter=handle.datacenter))


def _images(handle: ProviderHandle, provider: dict[str, str]) -> Images:
    images: Images | None = getattr(handle.provider, "images", None)
    if images is None:
        raise Unresolvable("NotSupported", f"{provider['kind']} {provider['name']}: images are not supported on "
                           "this backend yet (source.existing templates are used by name as given)")
    return images


# -- one pass -------------------------------------------------------------------------------------------------

def _available(info: TemplateInfo, provider: dict[str, str]) -> tuple[list[Condition], dict[str, Any]]:
    fields = {"phase": "Available", "uniqueID": info.unique_id, "managedObjectID": info.ref, "provider": provider,
              "path": info.path, "size": _size(info.size_bytes), "cpu": info.cpu,
              "memory": format_mib(info.memory_mib), "guestID": info.guest_id or None, "pendingTask": None,
              "progress": None}
    what = "template" if info.is_template else "VM (not marked as a template)"
    return [Condition(READY, True, "Available", f"{what} {info.path} ({info.unique_id})")], fields


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

    ready = next((c for c in current.get("conditions") or [] if c.get("type") == READY), None)
    if (ready is not None and ready.get("reason") in FINAL_REASONS and ready.get("status") == "False"
            and current.get("observedGeneration") == generation):
        return Outcome(dict(current), None)  # a failure only a spec change can heal
    if _BACKOFF.holding(uid) and current.get("observedGeneration") == generation:
        return Outcome(dict(current), _BACKOFF.remaining(uid))  # woken early: the retry is not due yet
    try:
        if source.existing is not None:
            handle, provider, _ = _locate(runtime, image, lookups)
            wanted = source.existing.path or source.existing.name or ""
            info = _images(handle, provider).find_template(wanted)
            if info is None:
                raise Unresolvable("TemplateNotFound", f"template {wanted!r} not found on {provider['kind']} "
                                   f"{provider['name']}")
            conditions, fields = _available(info, provider)
        elif source.from_server is not None:
            conditions, fields, delay = _capture(runtime, kind, image, lookups, current)
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


def _capture(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
             current: dict[str, Any]) -> tuple[list[Condition], dict[str, Any], float | None]:
    hold = _hold_for(kind, image)
    server: dict[str, Any] | None = None
    try:
        server = _source_server(image)
        return _capture_steps(runtime, kind, image, lookups, current, server, hold)
    except ApiException as exc:  # Kubernetes itself failed us: transient, the hold stays
        raise Unresolvable("KubernetesError", f"{exc.status} {exc.reason}") from None
    except (Unresolvable, ProviderError) as exc:
        cloning = (current.get("pendingTask") or {}).get("operation") == "capture"
        if _gives_back(exc, cloning) and _release(server, hold):
            uid = image.metadata.uid or ""
            _given_back[uid] = (time.monotonic(), str(exc), _given_back.get(uid, (0.0, "", 0))[2] + 1)
        raise


def _source_server(image: Image | ClusterImage) -> dict[str, Any] | None:
    source = image.spec.source.from_server
    assert source is not None
    return kube.read_custom_object(capture_hold.SERVERS, source.namespace or image.metadata.namespace or "",
                                   source.name)


def _gives_back(exc: Unresolvable | ProviderError, cloning: bool) -> bool:
    """Whether a failure ends this try at the capture, so the server is given back. Only a passing one keeps
    the hold and retries soon: the backend or Kubernetes unreachable, the ECS busy, or any error while
    following a clone that is still recorded as running (the clone goes on; the server must stay off)."""
    if exc.reason == "CaptureFailed":
        return True
    return not cloning and exc.reason not in _PASSING_FAILURES


_PASSING_FAILURES = frozenset({"ProviderNotReady", "Unreachable", "ServerBusy", "KubernetesError"})


def _capture_steps(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,  # noqa: PLR0917
                   current: dict[str, Any], server: dict[str, Any] | None,
                   hold: CaptureHold | None) -> tuple[list[Condition], dict[str, Any], float | None]:
    source = image.spec.source.from_server
    assert source is not None
    meta = image.metadata
    uid = meta.uid or ""
    namespace = source.namespace or meta.namespace or ""
    server_status = (server or {}).get("status") or {}
    handle, provider, where = _locate(runtime, image, lookups, server_zone=server_status.get("zone"))
    images = _images(handle, provider)
    name = template_name(kind, meta.namespace, meta.name or "")
    ecs = f"ECS {namespace}/{source.name}"
    capturing = [Condition(READY, False, "Capturing", f"cloning {ecs} into {name}")]
    pending = current.get("pendingTask")
    if pending and pending.get("operation") == "capture":
        result = images.task(TaskRef(pending["id"], "capture"))
        if result.status is TaskStatus.RUNNING:
            return capturing, {"phase": "Capturing"}, TASK_POLL_SECONDS
        if result.status is TaskStatus.FAILED:
            raise ProviderError(f"capture of {ecs} failed: {result.error}", reason="CaptureFailed")
    info = images.find_template(uid)  # by identity: a capture before a crash is never repeated
    if info is not None:
        _release(server, hold)
        _given_back.pop(uid, None)
        conditions, fields = _available(info, provider)
        return conditions, fields, None
    if server is None:
        raise Unresolvable("ServerNotFound", f"ElasticCloudServer {namespace}/{source.name} not found")
    observed = handle.provider.servers.find(server["metadata"]["uid"], server_status.get("managedObjectID"))
    if observed is None:
        raise Unresolvable("ServerNotReady", f"{ecs} has no VM yet")
    if hold is not None:
        _not_again_yet(uid, ecs)
        held = capture_hold.take(server, hold, lookups)
        if held != hold:
            raise Unresolvable("ServerBusy", f"{ecs} is held stopped by {held.by}; waiting for that capture")
        # Only on the ECS controller's go-ahead for this very hold: it has taken it in, its VM is off and it
        # has no step of its own in flight, so nothing starts the VM under the clone.
        if observed.power is not PowerState.OFF or server_status.get("stoppedForCapture") != hold.annotation():
            return ([Condition(READY, False, "StoppingServer", f"powerPolicy {source.power_policy.value}: "
                               f"waiting for {ecs} to stop ({_power_note(server_status)}); its power state is "
                               "restored after the capture")], {"phase": "Capturing"}, STOP_POLL_SECONDS)
    task = images.capture(observed, name, uid, where)
    log.info("%s %s: capturing %s as template %s (%s)", kind, meta.name, ecs, name, task.id)
    if task.id.startswith("done:"):
        found = images.find_template(uid)
        if found is not None:
            _release(server, hold)
            conditions, fields = _available(found, provider)
            return conditions, fields, None
    fields = {"phase": "Capturing", "pendingTask": {"id": task.id, "operation": "capture", "startedAt": _now()}}
    return capturing, fields, TASK_POLL_SECONDS


def _not_again_yet(uid: str, ecs: str) -> None:
    """Raise while the server a failed capture gave back has not run long enough yet (see RESTOP_SECONDS)."""
    since, why, failures = _given_back.get(uid, (0.0, "", 0))
    wait = min(RESTOP_SECONDS * 2 ** min(max(failures - 1, 0), 16), RESTOP_MAX_SECONDS)
    if failures and time.monotonic() - since < wait:
        raise Unresolvable("CaptureFailed", f"{why}; {ecs} runs again and is stopped for the next try "
                           f"{wait / 60:.0f} minutes after the failure")


def _hold_for(kind: str, image: Image | ClusterImage) -> CaptureHold | None:
    """What a consistent capture asks of the ECS; None for powerPolicy Live (the VM keeps running)."""
    source = image.spec.source.from_server
    assert source is not None
    if source.power_policy is CapturePowerPolicy.LIVE:
        return None
    meta = image.metadata
    by = f"{kind}/{meta.namespace}/{meta.name}" if meta.namespace else f"{kind}/{meta.name}"
    return CaptureHold(by, meta.uid or "", graceful=source.power_policy is CapturePowerPolicy.GUEST_SHUTDOWN)


def _release(server: dict[str, Any] | None, hold: CaptureHold | None) -> bool:
    """Give the server back, if we hold it; whether we did."""
    if hold is None or not capture_hold.release(server, hold):
        return False
    meta = (server or {}).get("metadata") or {}
    log.info("%s: capture hold on ECS %s/%s released", hold.by, meta.get("namespace"), meta.get("name"))
    return True


def _power_note(server_status: dict[str, Any]) -> str:
    """How the ECS's stop is going, from its PowerSynced condition."""
    power = next((c for c in server_status.get("conditions") or [] if c.get("type") == "PowerSynced"), None)
    return f"{power.get('reason')}: {power.get('message')}" if power else "not started yet"


def _import(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
            progress: Progress) -> tuple[list[Condition], dict[str, Any]]:
    source = image.spec.source.url
    assert source is not None
    meta = image.metadata
    handle, provider, where = _locate(runtime, image, lookups)
    images = _images(handle, provider)
    fmt = source.format or (ImageFormat.VHDX if source.url.lower().split("?")[0].endswith(".vhdx") else
                            ImageFormat.OVF if source.url.lower().split("?")[0].endswith(".ovf") else ImageFormat.OVA)
    if fmt is ImageFormat.VHDX:
        raise Unresolvable("NotSupported", f"{provider['kind']} {provider['name']}: VHDX imports are for SCVMM, "
                           "which herder does not import images into yet; use OVA or OVF")
    name = template_name(kind, meta.namespace, meta.name or "")
    info = images.import_ovf(source.url, source.checksum, name, meta.uid or "", where,
                             packaged=fmt is ImageFormat.OVA, progress=progress.report)
    return _available(info, provider)


# -- handlers -------------------------------------------------------------------------------------------------

def _importing(current: dict[str, Any], generation: int, percent: int, url: str) -> dict[str, Any]:
    pending = current.get("pendingTask") or {"id": "nfc", "operation": "import", "startedAt": _now()}
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
        _given_back.pop(uid, None)


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
        server = _source_server(image) if source.from_server is not None else None
        if source.from_server is not None:
            _end_capture(runtime, kind, image, lookups, server)
        if policy is DeletionPolicy.ORPHAN:
            return f"deletionPolicy Orphan: template {status.path or '-'} left in place"
        if not identity:
            return "no template to delete"
        images = _images_of(runtime, image, lookups, server)
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


def _images_of(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
               server: dict[str, Any] | None) -> Images:
    """The backend the image's template is on: the one status recorded, else where it would be made."""
    recorded = image.status.provider
    if recorded is not None:
        handle = runtime.ready_provider(recorded.kind.value, recorded.name)
        return _images(handle, {"kind": recorded.kind.value, "name": recorded.name})
    handle, provider, _ = _locate(runtime, image, lookups, server_zone=((server or {}).get("status") or {}).get("zone"))
    return _images(handle, provider)


def _end_capture(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
                 server: dict[str, Any] | None) -> None:
    """Before an image goes: let a running clone finish (then its template is found and deleted, not left
    behind), then give the server back."""
    pending = image.status.pending_task
    if pending is not None and pending.operation == "capture":
        try:
            images = _images_of(runtime, image, lookups, server)
        except Unresolvable as exc:  # no backend to ask (e.g. its server and zone are gone): do not wait
            log.info("%s %s: not waiting for capture task %s: %s", kind, image.metadata.name, pending.id, exc)
        else:
            if images.task(TaskRef(pending.id, "capture")).status is TaskStatus.RUNNING:
                raise Unresolvable("Capturing", f"waiting for capture task {pending.id} to finish")
    _release(server, _hold_for(kind, image))


@kopf.on.delete(GROUP, VERSION, "images")
@kopf.on.delete(GROUP, VERSION, "clusterimages")
async def image_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, resource: kopf.Resource,
                        **kwargs: Any) -> None:
    kind = "Image" if resource.plural == "images" else "ClusterImage"
    message = await asyncio.to_thread(delete_image, runtime_of(memo), kind, dict(body), Lookups.of(kwargs))
    logger.info(message)


__all__ = ["delete_image", "sync_image", "template_name"]
