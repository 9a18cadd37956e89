"""The connection planner: a connection is rebuilt only when what it is built from changed."""

from __future__ import annotations

from herder.errors import AuthenticationFailed
from herder.providers.types import EndpointInfo
from herder.reasons import Reason
from herder.reconcile.connection import ConnectionStep, connected, disconnected, plan_connection


def test_connect_keep_and_reconnect() -> None:
    wanted = (("vc.example:443", "DC0"), "digest-1")
    assert plan_connection(None, wanted) is ConnectionStep.CONNECT
    assert plan_connection(wanted, wanted) is ConnectionStep.KEEP
    assert plan_connection((("vc.example:443", "DC1"), "digest-1"), wanted) is ConnectionStep.RECONNECT
    assert plan_connection((("vc.example:443", "DC0"), "digest-0"), wanted) is ConnectionStep.RECONNECT  # rotated


def test_ready_says_the_version_or_why_not() -> None:
    up = connected("VCenter", EndpointInfo("8.0.3", "uuid"))
    assert up.status and up.reason is Reason.CONNECTED and up.message == "VCenter 8.0.3"
    down = disconnected(AuthenticationFailed("user 'herder' was refused"))
    assert not down.status and down.reason is Reason.AUTHENTICATION_FAILED and "refused" in down.message
