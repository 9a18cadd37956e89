"""One pass over a backend endpoint: re-read its credentials Secret by name (rotation without list/watch
rights on Secrets), (re)build the shared connection when the settings or credentials changed, log in, and
start the inventory watch that drives drift detection for every ECS on that endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from herder import OPERATOR_NAMESPACE, kube, metrics
from herder.controllers.connection.endpoints import Endpoint
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.runtime import ProviderHandle, Runtime, digest
from herder.controllers.shared.status import new_status
from herder.errors import HerderError
from herder.providers.types import Credentials
from herder.reconcile.connection import ConnectionStep, connected, disconnected, plan_connection

CREDENTIALS_RECHECK_SECONDS = 60.0
log = logging.getLogger(__name__)
EndpointOf = Callable[[dict[str, Any]], Endpoint]


def connect(runtime: Runtime, body: dict[str, Any], endpoint_of: EndpointOf) -> Pass:
    endpoint = endpoint_of(body)
    meta = body.get("metadata") or {}
    name = meta.get("name", "")
    ref = endpoint.credentials
    secret = kube.read_secret(ref.namespace or OPERATOR_NAMESPACE, ref.name, ("username", "password"))
    wanted = (endpoint.settings, digest(secret))
    key = (endpoint.kind, name)
    handle = runtime.providers.get(key)
    step = plan_connection((handle.settings, handle.credentials_digest) if handle else None, wanted)
    if step is ConnectionStep.RECONNECT and handle is not None:
        log.info("%s %s: settings or credentials changed; reconnecting", endpoint.kind, name)
        del runtime.providers[key]
        handle.provider.close()
    if step is not ConnectionStep.KEEP:
        provider = endpoint.build(Credentials(secret["username"], secret["password"]))
        handle = runtime.providers[key] = ProviderHandle(provider, *wanted)
    assert handle is not None
    info = handle.provider.endpoint.info()
    if not handle.watching:
        handle.provider.inventory.subscribe(runtime.on_inventory_change)
        handle.provider.inventory.start()
        handle.watching = True
    if not handle.ready:
        handle.ready, handle.reason, handle.message = True, "Connected", ""
        runtime.wake_all()  # servers waiting for this provider can go on
    runtime.backoff.succeeded(meta.get("uid", ""))
    metrics.set_backend_up(endpoint.kind, name, True)
    status = new_status(body.get("status") or {}, [connected(endpoint.kind, info)], int(meta.get("generation") or 0),
                        endpoint.status_fields(info))
    return Pass(status, CREDENTIALS_RECHECK_SECONDS)


def connection_failed(runtime: Runtime, kind: str, body: dict[str, Any], exc: HerderError) -> Pass:
    """Not Ready: the servers on this endpoint wait (ProviderNotReady) until it connects again."""
    meta = body.get("metadata") or {}
    name = meta.get("name", "")
    delay = runtime.backoff.retry(meta.get("uid", ""))[0]
    stale = runtime.providers.get((kind, name))
    if stale is not None:
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
