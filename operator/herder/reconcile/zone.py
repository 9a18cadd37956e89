"""Which zone an ECS goes to when it names none, and who may use a ResourcePool. Pure: no I/O.

The scheduler filters the zones (in the ECS's region when it names one, open to the ECS's namespace and the
networks it names, provider connected, the ECS's resource pool there and open to its namespace, the image's
provider, hosts that can run VMs, enough free memory), then
takes the one with the most free memory, then the fewest servers, then the first by name, so the same
inputs always give the same zone. A set spreading its replicas asks for the fewest of its own servers
first, then free memory. Its `message` says which zones were considered and why the winner won, for an
Event.

Free memory is the zone's measured memory minus what its hosts use now (every VM, herder's or not) minus
what herder's servers placed there but not yet running will take: the backend's figure lags a placement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from herder.api import format_mib, quantity_to_mib
from herder.api.ecs import PowerState
from herder.providers.types import Operation, ZoneCapacity
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition


@dataclass(frozen=True)
class ZoneCandidate:
    """One AvailabilityZone as the controller sees it."""

    name: str
    provider: tuple[str, str]  # (kind, name)
    region: str = ""
    provider_ready: bool = True
    not_ready: str | None = None  # the zone's Ready=False message (its placement is broken); None: usable
    namespace_allowed: bool = True  # the zone's allowedNamespaces admits the ECS's namespace
    allowed_networks: frozenset[str] | None = None  # spec.allowedNetworks, lower case; None: any network
    memory_capacity_mib: int | None = None  # status.capacity.memory; None: unknown
    hosts: int | None = None  # status.capacity.hosts; None: unknown
    memory_used_mib: int = 0  # status.capacity.memoryUsed: in use on the hosts now
    memory_pending_mib: int = 0  # herder's servers placed in the zone that are not running yet
    servers: int = 0  # servers already in the zone (for a set: its own)

    @property
    def free_memory_mib(self) -> int | None:
        if self.memory_capacity_mib is None:
            return None
        return self.memory_capacity_mib - self.memory_used_mib - self.memory_pending_mib


@dataclass(frozen=True)
class ZoneRequest:
    """What the ECS needs of a zone."""

    memory_mib: int
    image_provider: tuple[str, str] | None = None  # the image's provider; None: any (no image, or unknown)
    image: str = ""  # for messages: "ClusterImage/ubuntu"
    pool_zone: str | None = None  # the zone of the ECS's ResourcePool, when it names one
    pool: str = ""
    namespace_allowed: bool = True  # the ResourcePool (if any) admits the ECS's namespace
    networks: tuple[str, ...] = ()  # the networks spec.networks names (the zone's default needs no permission)
    spread: bool = False  # a set's replica: fewest servers (its own) first, then free memory
    namespace: str = ""  # for messages
    region: str | None = None  # the ECS's region: only its zones; None: any


@dataclass(frozen=True)
class ZoneChoice:
    zone: str | None
    rejected: tuple[tuple[str, str], ...]  # (zone, why not)
    message: str
    reason: Reason = Reason.NO_ZONE_AVAILABLE  # why there is no zone


def outside_region(zone: str, zone_region: str, wanted: str | None) -> str | None:
    """Why a zone named for a server (or recorded for it) is not in the region its spec names; None if it is."""
    if wanted is None or zone_region == wanted:
        return None
    return f"AvailabilityZone {zone} is in region {zone_region}, not in spec.region {wanted}"


def _why_not(request: ZoneRequest, zone: ZoneCandidate) -> str | None:
    kind, name = zone.provider
    if request.region is not None and zone.region != request.region:
        return f"in region {zone.region}, not {request.region}"
    if request.pool_zone is not None and zone.name != request.pool_zone:
        return f"ResourcePool {request.pool} is in zone {request.pool_zone}"
    if not zone.namespace_allowed:
        return f"namespace {request.namespace} is not allowed (spec.allowedNamespaces)"
    outside = [n for n in request.networks if zone.allowed_networks is not None
               and n.lower() not in zone.allowed_networks]
    if outside:
        return f"network {', '.join(outside)} is not allowed (spec.allowedNetworks)"
    if request.image_provider is not None and zone.provider != request.image_provider:
        image_kind, image_name = request.image_provider
        return f"image {request.image} is on {image_kind} {image_name}, not {kind} {name}"
    if not zone.provider_ready:
        return f"{kind} {name} is not connected"
    if zone.not_ready is not None:
        return f"zone not ready: {zone.not_ready}"
    if zone.hosts == 0:
        return "no connected hosts"
    free = zone.free_memory_mib
    if free is not None and free < request.memory_mib:
        return f"{max(free, 0)} MiB memory free, {request.memory_mib} MiB needed"
    return None


def _describe(zone: ZoneCandidate) -> str:
    free = zone.free_memory_mib
    room = f"{free} MiB free" if free is not None else "capacity unknown"
    return f"{zone.name} ({room}, {zone.servers} server{'s' if zone.servers != 1 else ''})"


def choose_zone(request: ZoneRequest, zones: Sequence[ZoneCandidate]) -> ZoneChoice:
    if request.pool_zone is not None and not request.namespace_allowed:
        return ZoneChoice(None, (), f"ResourcePool {request.pool} does not allow this namespace",
                          reason=Reason.RESOURCE_POOL_NOT_ALLOWED)
    fit: list[ZoneCandidate] = []
    rejected: list[tuple[str, str]] = []
    for zone in sorted(zones, key=lambda z: z.name):
        why = _why_not(request, zone)
        if why is None:
            fit.append(zone)
        else:
            rejected.append((zone.name, why))
    considered = ", ".join(_describe(z) for z in fit)
    refused = "; ".join(f"{name}: {why}" for name, why in rejected)
    if not fit:
        detail = f": {refused}" if refused else ""
        return ZoneChoice(None, tuple(rejected), f"no AvailabilityZone fits{detail}", reason=Reason.NO_ZONE_AVAILABLE)

    def rank(zone: ZoneCandidate) -> tuple[int, int, int, str]:
        free = zone.free_memory_mib
        # Known free memory first (most first), then zones of unknown capacity; fewer servers; then by name.
        by_memory = (0 if free is not None else 1, -(free or 0))
        if request.spread:
            return (zone.servers, *by_memory, zone.name)
        return (*by_memory, zone.servers, zone.name)

    best = min(fit, key=rank)
    if request.spread:
        basis = "fewest servers of the set, then most free memory"
    else:
        basis = "most free memory" if best.free_memory_mib is not None else "fewest servers, then name"
    message = f"zone {best.name} chosen ({basis}) among {considered}"
    if refused:
        message += f"; not eligible: {refused}"
    return ZoneChoice(best.name, tuple(rejected), message)


def pending_memory(spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, int]:
    """{zone: memory MiB the ECS is about to take} per ECS that has a zone. Memory counts while the ECS's VM is
    being made or powered on (a create in flight, or a VM that should run and does not yet): once it runs, the
    zone's measured use (status.capacity.memoryUsed) includes it. An ECS stuck before its VM exists (a
    missing image, say) takes nothing. Empty, never None, without a zone: Kopf keeps an index's old entries
    when its function returns None."""
    zone = spec.get("availabilityZone") or status.get("zone")
    if not zone:
        return {}
    creating = (status.get("pendingTask") or {}).get("operation") == Operation.CREATE
    starting = creating or (bool(status.get("uniqueID")) and status.get("powerState") != PowerState.ON)
    if spec.get("powerState", PowerState.ON) != PowerState.ON or not starting:
        return {str(zone): 0}
    try:
        return {str(zone): quantity_to_mib(spec.get("memory") or 0)}
    except ValueError:
        return {str(zone): 0}


def capacity_fields(capacity: ZoneCapacity | None) -> dict[str, Any]:
    """status.capacity (and the measured object's ID) from a reading; no capacity where none is measured."""
    if capacity is None:
        return {"capacity": None}
    values = {"hosts": capacity.hosts, "cpus": capacity.cpus, "cpuMHz": capacity.cpu_mhz,
              "cpuUsedMHz": capacity.cpu_used_mhz, "memory": format_mib(capacity.memory_mib),
              "memoryUsed": format_mib(capacity.memory_used_mib), "memoryFree": format_mib(capacity.memory_free_mib)}
    return {"managedObjectID": capacity.ref, "capacity": {k: v for k, v in values.items() if v is not None}}


def zone_ready(capacity: ZoneCapacity | None, provider: str) -> Condition:
    """Ready once the placement is found on the backend; the message says how much room it has."""
    if capacity is None:
        return Condition(READY, True, Reason.READY, f"placement found on {provider}; capacity not measured (a cloud "
                         "without a host group)")
    hosts = f"{capacity.hosts} host{'s' if capacity.hosts != 1 else ''}"
    return Condition(READY, True, Reason.READY, f"{hosts}, {format_mib(capacity.memory_free_mib)} of "
                     f"{format_mib(capacity.memory_mib)} memory free")
