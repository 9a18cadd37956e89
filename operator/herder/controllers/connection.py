"""One shared, self-healing connection per backend endpoint (VCenter or SCVMM), and its Ready status.

A daemon per endpoint object re-reads its credentials Secret by name every minute (rotation without
list/watch rights on Secrets), reconnects when the settings or the credentials change, and starts the
inventory watch that drives drift detection for every ECS on that endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import kopf

from herder import OPERATOR_NAMESPACE, kube, metrics
from herder.api import SecretRef
from herder.controllers.runtime import ProviderHandle, Runtime, digest, runtime_of
from herder.controllers.status import new_status, publish
from herder.providers.base import Provider, ProviderError
from herder.providers.types import Credentials
from herder.reconcile.conditions import READY, Condition

CREDENTIALS_RECHECK_SECONDS = 60.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """What a connection is built from. A change of `settings` or of the credentials rebuilds it."""

    kind: str
    credentials: SecretRef
    settings: Hashable
    build: Callable[[Credentials], Provider]
    datacenter: str = ""


def _connect(runtime: Runtime, name: str, endpoint: Endpoint) -> tuple[ProviderHandle, dict[str, Any]]:
    """Runs in a worker thread: (re)build the connection if needed, log in, describe the endpoint."""
    ref = endpoint.credentials
    secret = kube.read_secret(ref.namespace or OPERATOR_NAMESPACE, ref.name, ("username", "password"))
    fingerprint = digest(secret)
    key = (endpoint.kind, name)
    handle = runtime.providers.get(key)
    if handle is not None and (handle.settings != endpoint.settings or handle.credentials_digest != fingerprint):
        log.info("%s %s: settings or credentials changed; reconnecting", endpoint.kind, name)
        del runtime.providers[key]
        handle.provider.close()
        handle = None
    if handle is None:
        provider = endpoint.build(Credentials(secret["username"], secret["password"]))
        handle = ProviderHandle(provider, endpoint.settings, fingerprint, datacenter=endpoint.datacenter)
        runtime.providers[key] = handle
    info = handle.provider.endpoint.info()
    if not handle.watching:
        handle.provider.inventory.subscribe(runtime.on_inventory_change)
        handle.provider.inventory.start()
        handle.watching = True
    return handle, {"version": info.version, "instanceUUID": info.instance_uuid}


async def keep_connected(*, kind: str, plural: str, endpoint_of: Callable[[kopf.Body], Endpoint],
                         status_fields: Callable[[dict[str, Any]], dict[str, Any]], body: kopf.Body,
                         name: str, uid: str, meta: kopf.Meta, stopped: kopf.DaemonStopped, memo: kopf.Memo) -> None:
    runtime = runtime_of(memo)
    status = dict(body.get("status") or {})
    try:
        while not stopped:
            delay: float = CREDENTIALS_RECHECK_SECONDS
            fields: dict[str, Any] = {}
            try:
                handle, described = await asyncio.to_thread(_connect, runtime, name, endpoint_of(body))
                fields = status_fields(described)
                became_ready = not handle.ready
                handle.ready, handle.reason, handle.message = True, "Connected", ""
                ready = Condition(READY, True, "Connected", f"{kind} {described['version']}")
                runtime.backoff.succeeded(uid)
                if became_ready:
                    runtime.wake_all()  # servers waiting for this provider can go on
            except kube.SecretUnavailable as exc:
                ready = Condition(READY, False, "CredentialsUnavailable", str(exc))
                delay = runtime.backoff.retry(uid)[0]
            except ProviderError as exc:
                ready = Condition(READY, False, exc.reason, str(exc))
                delay = runtime.backoff.retry(uid)[0]
            if not ready.status:
                stale = runtime.providers.get((kind, name))
                if stale is not None:
                    stale.ready, stale.reason, stale.message = False, ready.reason, ready.message
                log.info("%s %s: %s: %s (retry in %.0fs)", kind, name, ready.reason, ready.message, delay)
            metrics.set_backend_up(kind, name, ready.status)
            wanted = new_status(status, [ready], int(meta.get("generation") or 0), fields)
            status = await publish(body, plural, status, wanted)
            await runtime.sleep(uid, delay, stopped)
    finally:
        closing = runtime.providers.get((kind, name))
        if closing is not None:
            del runtime.providers[(kind, name)]
            await asyncio.to_thread(closing.provider.close)
        metrics.forget_backend(kind, name)
        runtime.forget(uid)
