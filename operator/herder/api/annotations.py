"""The annotations herder reads from users and writes on its own objects (all under herder.dev/)."""

from __future__ import annotations

from collections.abc import Mapping

PAUSED_ANNOTATION = "herder.dev/paused"
RECREATE_ANNOTATION = "herder.dev/recreate"
# Set by an image capture (powerPolicy GuestShutdown or PowerOff) while it needs the server stopped:
# `<policy>:<Kind>/<namespace>/<name>:<image UID>`. The ECS controller stops the VM and keeps it stopped
# until the image removes the annotation, then restores spec.powerState.
CAPTURE_HOLD_ANNOTATION = "herder.dev/stopped-for-capture"
_TRUE = {"true", "yes", "1", ""}


def annotation_set(annotations: Mapping[str, str] | None, key: str) -> bool:
    """Whether a yes/no annotation is set (present and not a "no")."""
    value = (annotations or {}).get(key)
    return value is not None and value.strip().lower() in _TRUE
