"""VCenter: one shared session per vCenter, and its Ready status (see connection.py)."""

from __future__ import annotations

from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import VCenter
from herder.controllers.connection import Endpoint, keep_connected
from herder.controllers.runtime import runtime_of
from herder.providers import factory
from herder.providers.base import Provider
from herder.providers.types import Credentials, TLSSettings

PLURAL = "vcenters"


def endpoint(body: kopf.Body) -> Endpoint:
    spec = VCenter.model_validate(dict(body)).spec
    tls = TLSSettings(ca_bundle=spec.tls.ca_bundle, thumbprint=spec.tls.thumbprint,
                      insecure_skip_verify=spec.tls.insecure_skip_verify)

    def build(credentials: Credentials) -> Provider:
        return factory.vcenter(spec.server, spec.datacenter, credentials, tls,
                               on_request=metrics.backend_request_hook("vcenter"))

    return Endpoint("VCenter", spec.credentials_secret_ref, (spec.server, spec.datacenter, tls), build,
                    datacenter=spec.datacenter)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def vcenter_connection(*, body: kopf.Body, name: str, uid: str, meta: kopf.Meta, stopped: kopf.DaemonStopped,
                             memo: kopf.Memo, **_: Any) -> None:
    await keep_connected(kind="VCenter", plural=PLURAL, endpoint_of=endpoint,
                         status_fields=lambda info: {"version": info["version"], "instanceUUID": info["instanceUUID"]},
                         body=body, name=name, uid=uid, meta=meta, stopped=stopped, memo=memo)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def vcenter_changed(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)
