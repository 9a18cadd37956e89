"""VCenter and SCVMM handlers: one daemon per endpoint object keeps one shared, self-healing connection and
reports it in Ready."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION
from herder.controllers.connection import endpoints
from herder.controllers.connection.sync import EndpointOf, connect, connection_failed, disconnect
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.runtime import runtime_of

KINDS: dict[str, tuple[str, EndpointOf]] = {"vcenters": ("VCenter", endpoints.vcenter),
                                            "scvmms": ("SCVMM", endpoints.scvmm)}


@kopf.daemon(GROUP, VERSION, "vcenters", cancellation_timeout=10.0)
@kopf.daemon(GROUP, VERSION, "scvmms", cancellation_timeout=10.0)
async def connection_daemon(*, body: kopf.Body, name: str, uid: str, stopped: kopf.DaemonStopped,
                            memo: kopf.Memo, resource: kopf.Resource, **_: Any) -> None:
    runtime = runtime_of(memo)
    kind, endpoint_of = KINDS[resource.plural]
    daemon = Daemon(kind, resource.plural, step=lambda current, _: connect(runtime, current, endpoint_of),
                    on_error=lambda current, exc: connection_failed(runtime, kind, current, exc),
                    until_deleted=False)
    try:
        await daemon.run(body, uid, runtime, stopped)
    finally:
        await asyncio.to_thread(disconnect, runtime, kind, name)


@kopf.on.update(GROUP, VERSION, "vcenters", field="spec")
@kopf.on.update(GROUP, VERSION, "scvmms", field="spec")
def endpoint_changed(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)
