"""Decisions for one backend endpoint (VCenter or SCVMM): keep, build or rebuild its connection, and the
status that reports it. Pure: no I/O."""

from __future__ import annotations

import enum
from collections.abc import Hashable

from herder.errors import HerderError
from herder.providers.types import EndpointInfo
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition


class ConnectionStep(enum.Enum):
    KEEP = "Keep"
    CONNECT = "Connect"
    RECONNECT = "Reconnect"  # the settings or the credentials changed: close the old one first


def plan_connection(current: tuple[Hashable, str] | None, wanted: tuple[Hashable, str]) -> ConnectionStep:
    """`current`/`wanted`: (the settings a connection is built from, a digest of its credentials)."""
    if current is None:
        return ConnectionStep.CONNECT
    return ConnectionStep.KEEP if current == wanted else ConnectionStep.RECONNECT


def connected(kind: str, info: EndpointInfo) -> Condition:
    return Condition(READY, True, Reason.CONNECTED, f"{kind} {info.version}")


def disconnected(exc: HerderError) -> Condition:
    return Condition(READY, False, exc.reason, str(exc))
