"""The hold an image capture puts on its source ECS: the annotation herder.dev/stopped-for-capture.

The image controller never touches the server's power itself (the ECS controller would undo it). It asks
the ECS controller, through this annotation, to stop the VM the way the image's powerPolicy says and to
keep it stopped; removing the annotation gives the server its declared power state back.
"""

from __future__ import annotations

from typing import Any

from herder import kube
from herder.reconcile.desired import CAPTURE_HOLD_ANNOTATION, CaptureHold, Unresolvable, capture_hold

SERVERS = "elasticcloudservers"
_POINTER = "/metadata/annotations/" + CAPTURE_HOLD_ANNOTATION.replace("~", "~0").replace("/", "~1")


def current(server: dict[str, Any]) -> CaptureHold | None:
    return capture_hold((server.get("metadata") or {}).get("annotations"))


def take(server: dict[str, Any], wanted: CaptureHold) -> CaptureHold:
    """Put `wanted` on the ECS unless a hold is there already; the hold in place afterwards."""
    held = current(server)
    if held is not None:
        return held
    meta = server["metadata"]
    with kube.ignoring(404):
        kube.patch_custom_object(SERVERS, meta["namespace"], meta["name"],
                                 {"metadata": {"annotations": {CAPTURE_HOLD_ANNOTATION: wanted.annotation()}}})
        return wanted
    raise Unresolvable("ServerNotFound", f"ElasticCloudServer {meta['namespace']}/{meta['name']} not found")


def release(server: dict[str, Any] | None, ours: CaptureHold) -> bool:
    """Remove our hold from the ECS: only ours (a JSON-patch test), and only if it is there."""
    if server is None or current(server) != ours:
        return False
    meta = server["metadata"]
    with kube.ignoring(404, 409, 422):  # gone, or the hold changed meanwhile: not ours to remove
        kube.patch_custom_object(SERVERS, meta["namespace"], meta["name"], [
            {"op": "test", "path": _POINTER, "value": ours.annotation()},
            {"op": "remove", "path": _POINTER},
        ], json_patch=True)
        return True
    return False
