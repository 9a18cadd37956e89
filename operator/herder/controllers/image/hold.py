"""The hold an image capture puts on its source ECS: the annotation herder.dev/stopped-for-capture.

The image controller never touches the server's power itself (the ECS controller would undo it). It asks
the ECS controller, through this annotation, to stop the VM the way the image's powerPolicy says and to
keep it stopped; removing the annotation gives the server its declared power state back.

A hold counts only while its image still wants it (`live`): one left behind (an image deleted with its
finalizer removed by hand, a release lost to a crash) neither keeps a server stopped nor blocks the next
capture.
"""

from __future__ import annotations

from typing import Any

from herder import kube
from herder.api.annotations import CAPTURE_HOLD_ANNOTATION
from herder.controllers.shared.indexes import Lookups
from herder.errors import Unresolvable
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold, capture_hold

SERVERS = "elasticcloudservers"
_POINTER = "/metadata/annotations/" + CAPTURE_HOLD_ANNOTATION.replace("~", "~0").replace("/", "~1")


def live(annotations: dict[str, str] | None, namespace: str, name: str, lookups: Lookups) -> CaptureHold | None:
    """The hold on ECS namespace/name, if the very image that set it (same UID and powerPolicy) exists, is not
    being deleted (unless its clone still runs), captures this ECS and has not finished; otherwise None."""
    hold = capture_hold(annotations)
    if hold is None:
        return None
    kind, _, rest = hold.by.partition("/")
    image_namespace, _, image_name = rest.rpartition("/")
    image = lookups.image(image_namespace, image_name) if kind == "Image" else lookups.cluster_image(image_name)
    meta = (image or {}).get("metadata") or {}
    if image is None or meta.get("uid") != hold.uid:
        return None
    cloning = ((image.get("status") or {}).get("pendingTask") or {}).get("operation") == "capture"
    if meta.get("deletionTimestamp") and not cloning:  # a deleting image waits for its running clone
        return None
    source = (image.get("spec") or {}).get("source", {}).get("fromServer") or {}
    captures_this = (source.get("name"), source.get("namespace") or image_namespace) == (name, namespace)
    same_policy = source.get("powerPolicy", "GuestShutdown") == hold.policy
    finished = (image.get("status") or {}).get("phase") == "Available"
    return hold if captures_this and same_policy and not finished else None


def take(server: dict[str, Any], wanted: CaptureHold, lookups: Lookups) -> CaptureHold:
    """Put `wanted` on the ECS unless another live hold is there (a stale one is replaced); the hold in place
    afterwards. The patch is conditional on the ECS's resourceVersion, so two images never both believe they
    hold it. `server` is updated to match."""
    meta = server["metadata"]
    annotations = meta.setdefault("annotations", {})
    held = live(annotations, meta["namespace"], meta["name"], lookups)
    if held is not None:
        return held
    patch = {"metadata": {"resourceVersion": meta["resourceVersion"],
                          "annotations": {CAPTURE_HOLD_ANNOTATION: wanted.annotation()}}}
    with kube.ignoring(404, 409):
        kube.patch_custom_object(SERVERS, meta["namespace"], meta["name"], patch)
        annotations[CAPTURE_HOLD_ANNOTATION] = wanted.annotation()
        return wanted
    raise Unresolvable(Reason.SERVER_BUSY, f"ElasticCloudServer {meta['namespace']}/{meta['name']} changed or "
                       "went away while the capture asked it to stop; trying again")


def release(server: dict[str, Any] | None, ours: CaptureHold) -> bool:
    """Remove our hold from the ECS: only ours (a JSON-patch test), and only if it is there."""
    if server is None or capture_hold((server.get("metadata") or {}).get("annotations")) != ours:
        return False
    meta = server["metadata"]
    with kube.ignoring(404, 409, 422):  # gone, or the hold changed meanwhile: not ours to remove
        kube.patch_custom_object(SERVERS, meta["namespace"], meta["name"], [
            {"op": "test", "path": _POINTER, "value": ours.annotation()},
            {"op": "remove", "path": _POINTER},
        ], json_patch=True)
        meta["annotations"].pop(CAPTURE_HOLD_ANNOTATION, None)
        return True
    return False
