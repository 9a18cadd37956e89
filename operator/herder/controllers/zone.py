"""AvailabilityZone handlers: one daemon per zone checks its placement on the backend and measures it.

Every CAPACITY_REFRESH_SECONDS the zone's cluster, host or host group is read: the placement's objects must
exist (Ready=False, NotFound, names the missing one), and `status.capacity` gets its hosts' totals and use.
The scheduler (herder.reconcile.scheduling) ranks zones by that free memory. Status is written only when it
changed, and servers are woken only when something that can change a scheduling decision changed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.api import AvailabilityZone, format_mib
from herder.controllers.runtime import Runtime, runtime_of
from herder.controllers.status import new_status, publish
from herder.providers.base import ProviderError
from herder.providers.types import ZoneCapacity
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import Unresolvable, zone_placement

PLURAL = "availabilityzones"
CAPACITY_REFRESH_SECONDS = 30.0
log = logging.getLogger(__name__)


def capacity_fields(capacity: ZoneCapacity | None) -> dict[str, Any]:
    if capacity is None:
        return {"capacity": None}
    values = {"hosts": capacity.hosts, "cpus": capacity.cpus, "cpuMHz": capacity.cpu_mhz,
              "cpuUsedMHz": capacity.cpu_used_mhz, "memory": format_mib(capacity.memory_mib),
              "memoryUsed": format_mib(capacity.memory_used_mib), "memoryFree": format_mib(capacity.memory_free_mib)}
    return {"managedObjectID": capacity.ref, "capacity": {k: v for k, v in values.items() if v is not None}}


def observe_zone(runtime: Runtime, body: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
    """(the status herder wants, when to look again)."""
    zone = AvailabilityZone.model_validate(body)
    name, uid = zone.metadata.name or "", zone.metadata.uid or ""
    current = body.get("status") or {}
    generation = zone.metadata.generation or 0
    ref = zone.spec.provider
    try:
        handle = runtime.ready_provider(ref.kind.value, ref.name)
        capacity = handle.provider.zones.capacity(zone_placement(zone, handle.datacenter))
    except (Unresolvable, ProviderError) as exc:
        if exc.reason == "ProviderNotReady" and runtime.warming_up():
            return dict(current), 10.0
        log.info("AvailabilityZone %s: %s: %s", name, exc.reason, exc)
        failure = Condition(READY, False, exc.reason, str(exc))
        return new_status(current, [failure], generation, {}), runtime.backoff.retry(uid)[0]
    runtime.backoff.succeeded(uid)
    if capacity is None:
        ready = Condition(READY, True, "Ready", f"placement found on {ref.kind.value} {ref.name}; capacity not "
                          "measured (a cloud without a host group)")
    else:
        metrics.record_zone(name, capacity.hosts, capacity.memory_mib * 1024.0**2,
                            capacity.memory_used_mib * 1024.0**2)
        ready = Condition(READY, True, "Ready", f"{capacity.hosts} host{'s' if capacity.hosts != 1 else ''}, "
                          f"{format_mib(capacity.memory_free_mib)} of "
                          f"{format_mib(capacity.memory_mib)} memory free")
    return new_status(current, [ready], generation, capacity_fields(capacity)), CAPACITY_REFRESH_SECONDS


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def zone_daemon(*, body: kopf.Body, name: str, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                      **_: Any) -> None:
    runtime = runtime_of(memo)
    status = dict(body.get("status") or {})
    try:
        while not stopped:
            wanted, delay = await asyncio.to_thread(observe_zone, runtime, {**body, "status": status})
            status = await publish(body, PLURAL, status, wanted)
            await runtime.sleep(uid, delay, stopped)
    finally:
        runtime.forget(uid)
        metrics.forget_zone(name)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def zone_changed(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)
