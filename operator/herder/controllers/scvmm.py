"""SCVMM: one shared WinRM connection per VMM server, and its Ready status (see connection.py)."""

from __future__ import annotations

from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import SCVMM
from herder.controllers.connection import Endpoint, keep_connected
from herder.controllers.runtime import runtime_of
from herder.providers import factory
from herder.providers.base import Provider
from herder.providers.types import Credentials, TLSSettings

PLURAL = "scvmms"


def endpoint(body: kopf.Body) -> Endpoint:
    spec = SCVMM.model_validate(dict(body)).spec
    tls = TLSSettings(ca_bundle=spec.tls.ca_bundle, insecure_skip_verify=spec.tls.insecure_skip_verify)
    transport = spec.transport.value

    def build(credentials: Credentials) -> Provider:
        return factory.scvmm(spec.endpoint, credentials, tls, transport=transport, vmm_server=spec.vmm_server,
                             on_request=metrics.backend_request_hook("scvmm"))

    return Endpoint("SCVMM", spec.credentials_secret_ref, (spec.endpoint, transport, spec.vmm_server, tls), build)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def scvmm_connection(*, body: kopf.Body, name: str, uid: str, meta: kopf.Meta, stopped: kopf.DaemonStopped,
                           memo: kopf.Memo, **_: Any) -> None:
    await keep_connected(kind="SCVMM", plural=PLURAL, endpoint_of=endpoint,
                         status_fields=lambda info: {"version": info["version"]},
                         body=body, name=name, uid=uid, meta=meta, stopped=stopped, memo=memo)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def scvmm_changed(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)
