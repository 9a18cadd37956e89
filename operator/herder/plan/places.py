"""The plan of the objects that say where servers go: a VCenter or SCVMM (herder connects to it: the plan does
the same, with the credentials its Secret holds) and an AvailabilityZone (its placement must exist on the
backend: `Zones.capacity` checks and measures it, as the zone controller does)."""

from __future__ import annotations

from typing import Any

from herder.api import AvailabilityZone
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, unresolved
from herder.plan.model import Do, Step
from herder.reconcile.vm_spec import zone_placement
from herder.reconcile.zone import zone_ready


def plan_endpoint(ctx: Context, body: dict[str, Any]) -> Outcome:
    kind, name = str(body.get("kind")), str((body.get("metadata") or {}).get("name"))
    try:
        ctx.backends.reads(kind, name)
    except HerderError:
        failed = ctx.backends.failure(kind, name)
        return Outcome(problems=unresolved(failed).problems) if failed is not None else Outcome()
    info = ctx.backends.info.get((kind, name))
    spec = body.get("spec") or {}
    where = spec.get("server") or spec.get("endpoint") or ""
    found = (info.product or f"{kind} {info.version}") if info is not None else kind
    return Outcome(steps=[Step(Do.CONNECT, f"connect to {where} ({found}); the plan logged in with the "
                               "credentials of its Secret", details={"endpoint": str(where)})])


def plan_zone(ctx: Context, body: dict[str, Any]) -> Outcome:
    zone = AvailabilityZone.model_validate(body)
    ref = zone.spec.provider
    provider = f"{ref.kind.value} {ref.name}"
    try:
        reads = ctx.backends.reads(ref.kind.value, ref.name)
        capacity = reads.zones.capacity(zone_placement(zone))
    except HerderError as exc:
        return unresolved(exc)
    ready = zone_ready(capacity, provider)
    return Outcome(steps=[Step(Do.CHECK_ZONE, f"placement found on {provider}: {ready.message}")])


def zone_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    name = (body.get("metadata") or {}).get("name")
    servers = [b for b in ctx.world.of_kind("ElasticCloudServer")
               if ((b.get("status") or {}).get("zone") or (b.get("spec") or {}).get("availabilityZone")) == name]
    return Outcome(notes=[f"{len(servers)} server(s) in this zone keep their VMs, which herder can no longer reach; "
                          "new servers are not placed here"] if servers else [])


def endpoint_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    kind, name = body.get("kind"), (body.get("metadata") or {}).get("name")
    zones = [b["metadata"]["name"] for b in ctx.world.of_kind("AvailabilityZone")
             if ((b.get("spec") or {}).get("provider") or {}) == {"kind": kind, "name": name}]
    return Outcome(notes=[f"herder disconnects; zones {', '.join(zones)} lose their backend (VMs are not touched)"]
                   if zones else ["herder disconnects; VMs are not touched"])
