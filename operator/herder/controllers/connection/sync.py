"""One pass over a backend endpoint: re-read its credentials Secret by name every CREDENTIALS_RECHECK_SECONDS
(rotation without list/watch rights on Secrets; re-reads that fail keep a working connection for a grace),
(re)build the shared connection when the settings or credentials changed, log in, start the inventory watch that
drives drift detection for every ECS on that endpoint, and notice a backend that stopped answering (hung, or its
port closed) without asking it anything: its change feed answers at least once per wait, so a silence longer
than that is Unreachable."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from herder import OPERATOR_NAMESPACE, kube, metrics
from herder.controllers.connection.endpoints import Endpoint
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.runtime import ProviderHandle, Runtime, digest
from herder.controllers.shared.status import new_status
from herder.errors import HerderError, SecretUnavailable, Unreachable
from herder.providers.types import Credentials
from herder.reasons import Reason
from herder.reconcile.connection import ConnectionStep, connected, disconnected, plan_connection

CREDENTIALS_RECHECK_SECONDS = 60.0
CREDENTIALS_GRACE_SECONDS = 60.0  # how long a working connection outlives re-reads that fail
HEALTH_CHECK_SECONDS = 5.0
log = logging.getLogger(__name__)
EndpointOf = Callable[[dict[str, Any]], Endpoint]


def _keeps(handle: ProviderHandle, endpoint: Endpoint) -> bool:
    """Whether a failed re-read of the credentials may leave this connection in service: it works, its settings
    are the same, and its credentials were read within CREDENTIALS_RECHECK_SECONDS + CREDENTIALS_GRACE_SECONDS."""
    return (handle.ready and handle.settings == endpoint.settings
            and time.monotonic() - handle.credentials_read_at < CREDENTIALS_RECHECK_SECONDS + CREDENTIALS_GRACE_SECONDS)


def _handle(runtime: Runtime, endpoint: Endpoint, name: str) -> ProviderHandle:
    """The connection, built or rebuilt as the planner says; its Secret is read when due."""
    key = (endpoint.kind, name)
    handle = runtime.providers.get(key)
    # A connection that is not up (never logged in, or failed since) reads its Secret on every retry, so a
    # rotated password is picked up within the backoff rather than the recheck interval.
    due = (handle is None or not handle.ready or handle.settings != endpoint.settings
           or time.monotonic() - handle.credentials_read_at >= CREDENTIALS_RECHECK_SECONDS)
    if handle is not None and not due:
        return handle
    ref = endpoint.credentials
    try:
        secret = kube.read_secret(ref.namespace or OPERATOR_NAMESPACE, ref.name, ("username", "password"))
    except SecretUnavailable as exc:
        if handle is None or not _keeps(handle, endpoint):
            raise
        # The credentials in use still work: a re-read refused for a moment (an API server that has just restarted
        # refuses requests until its authorizer catches up) is no reason to stop every server on them. It is tried
        # again at every health check; past the grace the endpoint fails as it would have at once before.
        log.warning("%s %s: credentials not re-read, the connection in use is kept for now: %s", endpoint.kind,
                    name, exc)
        return handle
    wanted = (endpoint.settings, digest(secret))
    step = plan_connection((handle.settings, handle.credentials_digest) if handle else None, wanted)
    if step is ConnectionStep.RECONNECT and handle is not None:
        log.info("%s %s: settings or credentials changed; reconnecting", endpoint.kind, name)
        del runtime.providers[key]
        handle.provider.close()
    if handle is None or step is not ConnectionStep.KEEP:
        provider = endpoint.build(Credentials(secret["username"], secret["password"]))
        handle = runtime.providers[key] = ProviderHandle(provider, *wanted)
    handle.credentials_read_at = time.monotonic()
    return handle


def connect(runtime: Runtime, body: dict[str, Any], endpoint_of: EndpointOf) -> Pass:
    endpoint = endpoint_of(body)
    meta = body.get("metadata") or {}
    name = meta.get("name", "")
    handle = _handle(runtime, endpoint, name)
    silent = handle.provider.endpoint.unanswered() if handle.info is not None else None
    if silent is not None:
        raise Unreachable(f"{endpoint.kind} {name} has not answered for {silent:.0f}s")
    if handle.info is None or not handle.ready:
        handle.info = handle.provider.endpoint.info()  # logs in: proves the credentials
    if not handle.watching:
        handle.provider.inventory.subscribe(runtime.on_inventory_change)
        handle.provider.inventory.start()
        handle.watching = True
    if not handle.ready:
        handle.ready, handle.reason, handle.message = True, Reason.CONNECTED, ""
        runtime.wake_all()  # servers waiting for this provider can go on
    runtime.backoff.succeeded(meta.get("uid", ""))
    metrics.set_backend_up(endpoint.kind, name, True)
    info = handle.info
    status = new_status(body.get("status") or {}, [connected(endpoint.kind, info)], int(meta.get("generation") or 0),
                        endpoint.status_fields(info))
    return Pass(status, HEALTH_CHECK_SECONDS)


def connection_failed(runtime: Runtime, kind: str, body: dict[str, Any], exc: HerderError) -> Pass:
    """Not Ready: the servers on this endpoint wait (ProviderNotReady, or Unreachable) until it answers again.
    An unreachable backend keeps its connection: its watch goes on trying, and its first answer heals it."""
    meta = body.get("metadata") or {}
    name = meta.get("name", "")
    unreachable = isinstance(exc, Unreachable)
    delay = HEALTH_CHECK_SECONDS if unreachable else runtime.backoff.retry(meta.get("uid", ""))[0]
    stale = runtime.providers.get((kind, name))
    if stale is not None:
        if stale.ready:
            runtime.wake_all()  # its servers say why they wait
        stale.ready, stale.reason, stale.message = False, exc.reason, str(exc)
    log.info("%s %s: %s: %s (retry in %.0fs)", kind, name, exc.reason, exc, delay)
    metrics.set_backend_up(kind, name, False)
    status = new_status(body.get("status") or {}, [disconnected(exc)], int(meta.get("generation") or 0), {})
    return Pass(status, delay, failed=True)


def disconnect(runtime: Runtime, kind: str, name: str) -> None:
    """The endpoint object is gone (or the operator stops): close its connection."""
    closing = runtime.providers.pop((kind, name), None)
    if closing is not None:
        closing.provider.close()
    metrics.forget_backend(kind, name)
