"""AvailabilityZone handlers: one daemon per zone checks its placement on the backend and measures it.
Servers are woken only when something that can change a scheduling decision changed."""

from __future__ import annotations

from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import dependency_changed
from herder.controllers.shared.runtime import runtime_of
from herder.controllers.zone.sync import observe_zone, zone_failed

PLURAL = "availabilityzones"
KIND = "AvailabilityZone"


@kopf.index(GROUP, VERSION, PLURAL)
def zone_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {name: dict(body)}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def zone_daemon(*, body: kopf.Body, name: str, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                      **_: Any) -> None:
    runtime = runtime_of(memo)
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: observe_zone(runtime, current),
                    on_error=lambda current, exc: zone_failed(runtime, current, exc), until_deleted=False)
    try:
        await daemon.run(body, uid, runtime, stopped)
    finally:
        metrics.forget_zone(name)


@kopf.on.event(GROUP, VERSION, PLURAL)
def zone_event(*, type: str | None, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """A spec change wakes the zone's daemon; a change that matters wakes the servers."""
    runtime = runtime_of(memo)
    if body.get("metadata", {}).get("generation") != (body.get("status") or {}).get("observedGeneration"):
        runtime.wake(uid)
    dependency_changed(runtime, type, uid, body)
