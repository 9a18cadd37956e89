"""The hold an image capture puts on its source ECS (`herder.dev/stopped-for-capture`), parsed. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from herder.api.annotations import CAPTURE_HOLD_ANNOTATION

_STOP_POLICIES = {"GuestShutdown": True, "PowerOff": False}  # policy -> a graceful (guest OS) shutdown


@dataclass(frozen=True)
class CaptureHold:
    """An image capture holds the server stopped: `by` names the image (`Kind/namespace/name` or
    `ClusterImage/name`), `uid` is its UID (a same-named successor is another image), `graceful` says how
    to stop the VM."""

    by: str
    uid: str
    graceful: bool

    @property
    def policy(self) -> str:
        return next(name for name, graceful in _STOP_POLICIES.items() if graceful == self.graceful)

    def annotation(self) -> str:
        return f"{self.policy}:{self.by}:{self.uid}"


def capture_hold(annotations: dict[str, str] | None) -> CaptureHold | None:
    """The hold the annotation records; None when absent or not written by herder (never a guess to stop)."""
    parts = ((annotations or {}).get(CAPTURE_HOLD_ANNOTATION) or "").split(":")
    if len(parts) != 3 or parts[0] not in _STOP_POLICIES or not all(parts):
        return None
    policy, by, uid = parts
    return CaptureHold(by, uid, _STOP_POLICIES[policy])
