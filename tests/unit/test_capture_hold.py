"""Which capture holds count: only one whose very image still exists, captures this ECS with the same policy
and has not finished."""

from __future__ import annotations

from typing import Any

import pytest

from herder.api.annotations import CAPTURE_HOLD_ANNOTATION
from herder.controllers.image import hold as capture_hold
from herder.controllers.shared.indexes import Lookups
from herder.reconcile.capture import CaptureHold


def _image(source: dict[str, Any], phase: str = "Capturing", uid: str = "u-1", **meta: Any) -> dict[str, Any]:
    return {"metadata": {"uid": uid} | meta, "spec": {"source": {"fromServer": source}}, "status": {"phase": phase}}


def _lookups(images: dict[tuple[str, str], dict[str, Any]],
             cluster_images: dict[str, dict[str, Any]] | None = None) -> Lookups:
    return Lookups(zones={}, images={k: [v] for k, v in images.items()},  # type: ignore[arg-type]
                   cluster_images={k: [v] for k, v in (cluster_images or {}).items()}, pools={})  # type: ignore[arg-type]


def _live(value: str, lookups: Lookups) -> CaptureHold | None:
    return capture_hold.live({CAPTURE_HOLD_ANNOTATION: value}, "team", "web", lookups)


@pytest.mark.parametrize(("image", "counts"), [
    (_image({"name": "web"}), True),  # powerPolicy defaults to GuestShutdown
    (_image({"name": "web", "powerPolicy": "PowerOff"}), False),  # not the policy that set it
    (_image({"name": "web", "powerPolicy": "Live"}), False),
    (_image({"name": "web"}, uid="u-9"), False),  # a same-named successor is another image
    (_image({"name": "db"}), False),  # captures another server
    (_image({"name": "web"}, phase="Available"), False),  # done: a release lost to a crash
    (_image({"name": "web"}, deletionTimestamp="2026-11-21T10:00:00Z"), False),
    # Deleting while its clone still runs: the deletion waits for the clone, the server stays off.
    (_image({"name": "web"}, deletionTimestamp="2026-11-21T10:00:00Z") | {
        "status": {"phase": "Capturing", "pendingTask": {"id": "task-1", "operation": "capture"}}}, True),
])
def test_an_image_hold_counts_only_while_its_image_captures_this_server(image: dict[str, Any], counts: bool) -> None:
    lookups = _lookups({("team", "golden"): image})
    assert (_live("GuestShutdown:Image/team/golden:u-1", lookups) is not None) is counts
    assert _live("GuestShutdown:Image/team/gone:u-1", lookups) is None  # its image is gone


def test_a_cluster_image_hold_names_the_server_namespace_in_its_source() -> None:
    source = {"name": "web", "namespace": "team", "powerPolicy": "PowerOff"}
    lookups = _lookups({}, {"base": _image(source, uid="u-2")})
    assert _live("PowerOff:ClusterImage/base:u-2", lookups) == CaptureHold("ClusterImage/base", "u-2", graceful=False)
    other = _lookups({}, {"base": _image(source | {"namespace": "elsewhere"}, uid="u-2")})
    assert _live("PowerOff:ClusterImage/base:u-2", other) is None
