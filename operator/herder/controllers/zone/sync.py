"""One pass over an AvailabilityZone: the placement's objects must exist on the backend (Ready=False,
NotFound, names the missing one), and `status.capacity` gets its hosts' totals and use, re-read every
CAPACITY_REFRESH_SECONDS. The scheduler (herder.reconcile.zone) ranks zones by that free memory."""

from __future__ import annotations

import logging
from typing import Any

from herder import metrics
from herder.api import AvailabilityZone
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import new_status
from herder.errors import HerderError
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.vm_spec import zone_placement
from herder.reconcile.zone import capacity_fields, zone_ready

CAPACITY_REFRESH_SECONDS = 30.0
log = logging.getLogger(__name__)


def observe_zone(runtime: Runtime, body: dict[str, Any]) -> Pass:
    zone = AvailabilityZone.model_validate(body)
    ref = zone.spec.provider
    handle = runtime.ready_provider(ref.kind.value, ref.name)
    capacity = handle.provider.zones.capacity(zone_placement(zone))
    runtime.backoff.succeeded(zone.metadata.uid or "")
    if capacity is not None:
        metrics.record_zone(zone.metadata.name or "", capacity.hosts, capacity.memory_mib * 1024.0**2,
                            capacity.memory_used_mib * 1024.0**2)
    ready = zone_ready(capacity, f"{ref.kind.value} {ref.name}")
    status = new_status(body.get("status") or {}, [ready], zone.metadata.generation or 0, capacity_fields(capacity))
    return Pass(status, CAPACITY_REFRESH_SECONDS)


def zone_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    zone = AvailabilityZone.model_validate(body)
    log.info("AvailabilityZone %s: %s: %s", zone.metadata.name, exc.reason, exc)
    failure = Condition(READY, False, exc.reason, str(exc))
    status = new_status(body.get("status") or {}, [failure], zone.metadata.generation or 0, {})
    return Pass(status, runtime.backoff.retry(zone.metadata.uid or "")[0], failed=True)
