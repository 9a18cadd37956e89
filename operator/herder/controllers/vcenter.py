"""VCenter: keep one shared, self-healing session per vCenter, and report whether it works.

A daemon per VCenter re-reads its credentials Secret by name every minute (rotation without list/watch
rights on Secrets), reconnects when the spec or the credentials change, and starts the inventory watch
that drives drift detection for every ECS on that vCenter.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from herder import GROUP, OPERATOR_NAMESPACE, VERSION, kube
from herder.api import VCenter
from herder.controllers.runtime import ProviderHandle, Runtime, digest, runtime_of
from herder.controllers.status import new_status, publish
from herder.providers import factory
from herder.providers.base import ProviderError
from herder.providers.types import Credentials, TLSSettings
from herder.reconcile.conditions import READY, Condition

PLURAL = "vcenters"
CREDENTIALS_RECHECK_SECONDS = 60.0
log = logging.getLogger(__name__)


def _connect(runtime: Runtime, name: str, vcenter: VCenter) -> tuple[ProviderHandle, dict[str, Any]]:
    """Runs in a worker thread: (re)build the connection if needed, log in, describe the endpoint."""
    spec = vcenter.spec
    ref = spec.credentials_secret_ref
    secret = kube.read_secret(ref.namespace or OPERATOR_NAMESPACE, ref.name, ("username", "password"))
    tls = TLSSettings(ca_bundle=spec.tls.ca_bundle, thumbprint=spec.tls.thumbprint,
                      insecure_skip_verify=spec.tls.insecure_skip_verify)
    settings = (spec.server, spec.datacenter, tls)
    fingerprint = digest(secret)
    key = ("VCenter", name)
    handle = runtime.providers.get(key)
    if handle is not None and (handle.settings != settings or handle.credentials_digest != fingerprint):
        log.info("VCenter %s: settings or credentials changed; reconnecting", name)
        runtime.providers.pop(key)
        handle.provider.close()
        handle = None
    if handle is None:
        provider = factory.vcenter(spec.server, spec.datacenter,
                                   Credentials(secret["username"], secret["password"]), tls)
        handle = ProviderHandle(provider, settings, fingerprint, datacenter=spec.datacenter)
        runtime.providers[key] = handle
    info = handle.provider.endpoint.info()
    if not handle.watching:
        handle.provider.inventory.subscribe(runtime.on_inventory_change)
        handle.provider.inventory.start()
        handle.watching = True
    return handle, {"version": info.version, "instanceUUID": info.instance_uuid}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def vcenter_connection(*, body: kopf.Body, name: str, uid: str, meta: kopf.Meta, stopped: kopf.DaemonStopped,
                             memo: kopf.Memo, **_: Any) -> None:
    runtime = runtime_of(memo)
    status = dict(body.get("status") or {})
    try:
        while not stopped:
            vcenter = VCenter.model_validate(dict(body))
            delay: float = CREDENTIALS_RECHECK_SECONDS
            fields: dict[str, Any] = {}
            try:
                handle, fields = await asyncio.to_thread(_connect, runtime, name, vcenter)
                became_ready = not handle.ready
                handle.ready, handle.reason, handle.message = True, "Connected", ""
                ready = Condition(READY, True, "Connected", f"vCenter {fields['version']}")
                runtime.backoff.succeeded(uid)
                if became_ready:
                    runtime.wake_all()  # servers waiting for this provider can go on
            except kube.SecretUnavailable as exc:
                ready = Condition(READY, False, "CredentialsUnavailable", str(exc))
                delay = runtime.backoff.failed(uid)
            except ProviderError as exc:
                ready = Condition(READY, False, exc.reason, str(exc))
                delay = runtime.backoff.failed(uid)
            if not ready.status:
                stale = runtime.providers.get(("VCenter", name))
                if stale is not None:
                    stale.ready, stale.reason, stale.message = False, ready.reason, ready.message
            generation = int(meta.get("generation") or 0)
            wanted = new_status(status, [ready], generation, fields)
            status = await publish(body, PLURAL, status, wanted)
            await runtime.sleep(uid, delay, stopped)
    finally:
        closing = runtime.providers.get(("VCenter", name))
        if closing is not None:
            del runtime.providers[("VCenter", name)]
            await asyncio.to_thread(closing.provider.close)
        runtime.forget(uid)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def vcenter_changed(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)
