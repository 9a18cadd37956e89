"""An image's `fromServer` source: clone an ECS into a template, stopping it first when the powerPolicy asks
for a consistent capture (GuestShutdown, PowerOff) through the ECS's capture hold (`hold`).

The clone task is recorded in the image's `status.pendingTask` and followed; the template's instance UUID
is the image's UID, so a capture that ran before a crash is found, never repeated.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kubernetes.client.exceptions import ApiException

from herder import kube
from herder.api.clusterimage import ClusterImage
from herder.api.ecs import PowerState
from herder.api.image import Image
from herder.controllers.image import hold as capture_hold
from herder.controllers.image.backend import images_of, locate, now
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import condition_in
from herder.errors import CaptureFailed, HerderError, NotSupported, Unresolvable
from herder.providers.types import Operation, TaskRef, TaskStatus, TemplateInfo
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.image import available, gives_back, hold_for, restop_wait, template_name, uncapturable

log = logging.getLogger(__name__)
TASK_POLL_SECONDS = 1.0
STOP_POLL_SECONDS = 2.0  # while the ECS controller stops the source server for a capture
# After a consistent capture failed and gave its server back, the server runs at least this long before the
# retry stops it again: a failure that persists must not power-cycle a server every backoff.
# It doubles with every failure in a row, up to RESTOP_MAX_SECONDS.
RESTOP_SECONDS = 300.0
RESTOP_MAX_SECONDS = 6 * 3600.0
_given_back: dict[str, tuple[float, str, int]] = {}  # image UID -> (time.monotonic() of the last give-back, why,
#                                                       failures in a row)


def capture(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
            current: dict[str, Any]) -> tuple[list[Condition], dict[str, Any], float | None]:
    hold = hold_for(kind, image)
    server: dict[str, Any] | None = None
    try:
        server = source_server(image)
        return _capture_steps(runtime, kind, image, lookups, current, server, hold)
    except ApiException as exc:  # Kubernetes itself failed us: transient, the hold stays
        raise Unresolvable(Reason.KUBERNETES_ERROR, kube.refusal(exc)) from None
    except HerderError as exc:
        cloning = (current.get("pendingTask") or {}).get("operation") == Operation.CAPTURE
        if gives_back(exc.reason, cloning) and _release(server, hold):
            uid = image.metadata.uid or ""
            _given_back[uid] = (time.monotonic(), str(exc), _given_back.get(uid, (0.0, "", 0))[2] + 1)
        raise


def source_server(image: Image | ClusterImage) -> dict[str, Any] | None:
    source = image.spec.source.from_server
    assert source is not None
    return kube.read_custom_object(capture_hold.SERVERS, source.namespace or image.metadata.namespace or "",
                                   source.name)


def _capture_steps(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,  # noqa: PLR0917
                   current: dict[str, Any], server: dict[str, Any] | None,
                   hold: CaptureHold | None) -> tuple[list[Condition], dict[str, Any], float | None]:
    source = image.spec.source.from_server
    assert source is not None
    meta = image.metadata
    uid = meta.uid or ""
    namespace = source.namespace or meta.namespace or ""
    server_status = (server or {}).get("status") or {}
    handle, provider, where = locate(runtime, image, lookups, server_zone=server_status.get("zone"))
    images = handle.provider.images
    name = template_name(kind, meta.namespace, meta.name or "")
    ecs = f"ECS {namespace}/{source.name}"
    capturing = [Condition(READY, False, Reason.CAPTURING, f"cloning {ecs} into {name}")]
    pending = current.get("pendingTask")
    if pending and pending.get("operation") == Operation.CAPTURE:
        result = images.task(TaskRef(pending["id"], Operation.CAPTURE))
        if result.status is TaskStatus.RUNNING:
            return capturing, {"phase": "Capturing"}, TASK_POLL_SECONDS
        if result.status is TaskStatus.FAILED:
            raise CaptureFailed(f"capture of {ecs} failed: {result.error}")
    info = images.find_template(uid)  # by identity: a capture before a crash is never repeated
    if info is not None:
        return _captured(uid, info, provider, server, hold)
    if server is None:
        raise Unresolvable(Reason.SERVER_NOT_FOUND, f"ElasticCloudServer {namespace}/{source.name} not found")
    refused = uncapturable(source.power_policy, provider["kind"])
    if refused is not None:
        raise NotSupported(f"{provider['kind']} {provider['name']}: {refused}")
    observed = handle.provider.vms.find(server["metadata"]["uid"], server_status.get("managedObjectID"))
    if observed is None:
        raise Unresolvable(Reason.SERVER_NOT_READY, f"{ecs} has no VM yet")
    if hold is not None:
        _not_again_yet(uid, ecs)
        held = capture_hold.take(server, hold, lookups)
        if held != hold:
            raise Unresolvable(Reason.SERVER_BUSY, f"{ecs} is held stopped by {held.by}; waiting for that capture")
        # Only on the ECS controller's go-ahead for this very hold: it has taken it in, its VM is off and it
        # has no step of its own in flight, so nothing starts the VM under the clone.
        if observed.power is not PowerState.OFF or server_status.get("stoppedForCapture") != hold.annotation():
            return ([Condition(READY, False, Reason.STOPPING_SERVER, f"powerPolicy {source.power_policy.value}: "
                               f"waiting for {ecs} to stop ({_power_note(server_status)}); its power state is "
                               "restored after the capture")], {"phase": "Capturing"}, STOP_POLL_SECONDS)
    task = images.capture(observed, name, uid, where)
    log.info("%s %s: capturing %s as template %s (%s)", kind, meta.name, ecs, name, task.id)
    if task.finished:
        found = images.find_template(uid)
        if found is not None:
            return _captured(uid, found, provider, server, hold)
    pending_task = {"id": task.id, "operation": Operation.CAPTURE.value, "startedAt": now()}
    fields = {"phase": "Capturing", "pendingTask": pending_task}
    return capturing, fields, TASK_POLL_SECONDS


def _captured(uid: str, info: TemplateInfo, provider: dict[str, str], server: dict[str, Any] | None,
              hold: CaptureHold | None) -> tuple[list[Condition], dict[str, Any], float | None]:
    """The template exists: give the server back and forget past failures."""
    _release(server, hold)
    _given_back.pop(uid, None)
    conditions, fields = available(info, provider)
    return conditions, fields, None


def _not_again_yet(uid: str, ecs: str) -> None:
    """Raise while the server a failed capture gave back has not run long enough yet (see RESTOP_SECONDS)."""
    since, why, failures = _given_back.get(uid, (0.0, "", 0))
    wait = restop_wait(failures, RESTOP_SECONDS, RESTOP_MAX_SECONDS)
    if failures and time.monotonic() - since < wait:
        raise Unresolvable(Reason.CAPTURE_FAILED, f"{why}; {ecs} runs again and is stopped for the next try "
                           f"{wait / 60:.0f} minutes after the failure")


def _release(server: dict[str, Any] | None, hold: CaptureHold | None) -> bool:
    """Give the server back, if we hold it; whether we did."""
    if hold is None or not capture_hold.release(server, hold):
        return False
    meta = (server or {}).get("metadata") or {}
    log.info("%s: capture hold on ECS %s/%s released", hold.by, meta.get("namespace"), meta.get("name"))
    return True


def _power_note(server_status: dict[str, Any]) -> str:
    """How the ECS's stop is going, from its PowerSynced condition."""
    power = condition_in(server_status, "PowerSynced")
    return f"{power.get('reason')}: {power.get('message')}" if power else "not started yet"


def end_capture(runtime: Runtime, kind: str, image: Image | ClusterImage, lookups: Lookups,
                 server: dict[str, Any] | None) -> None:
    """Before an image goes: let a running clone finish (then its template is found and deleted, not left
    behind), then give the server back."""
    pending = image.status.pending_task
    if pending is not None and pending.operation == Operation.CAPTURE:
        try:
            images = images_of(runtime, image, lookups, server)
        except Unresolvable as exc:  # no backend to ask (e.g. its server and zone are gone): do not wait
            log.info("%s %s: not waiting for capture task %s: %s", kind, image.metadata.name, pending.id, exc)
        else:
            if images.task(TaskRef(pending.id, Operation.CAPTURE)).status is TaskStatus.RUNNING:
                raise Unresolvable(Reason.CAPTURING, f"waiting for capture task {pending.id} to finish")
    _release(server, hold_for(kind, image))


def forget(uid: str) -> None:
    """The image's daemon ended: drop what this process remembered of its failures."""
    _given_back.pop(uid, None)
