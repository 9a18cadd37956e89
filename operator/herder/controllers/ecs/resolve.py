"""What an ElasticCloudServer references, followed: its zone (the scheduler's choice when it names none) and
that zone's connected provider, its image (visibility rules included), its ResourcePool.

The scheduler's choice is handed to `announce`: the operator posts it as an Event, herder plan shows it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

import kopf

from herder.api import ElasticCloudServer, ResourcePool
from herder.controllers.image.access import image_for
from herder.controllers.shared.indexes import Lookups, zone_and_reads
from herder.controllers.shared.runtime import Backends
from herder.controllers.zone.choice import candidates, image_provider, request_for
from herder.errors import Unresolvable
from herder.providers.base import ProviderReads
from herder.providers.types import ObservedVM
from herder.reasons import Reason
from herder.reconcile import adoption
from herder.reconcile.selectors import selector_matches
from herder.reconcile.vm_spec import Resolved
from herder.reconcile.zone import ZoneChoice, choose_zone, outside_region

log = logging.getLogger(__name__)
Announce = Callable[[ElasticCloudServer, ZoneChoice], None]


def resolve(backends: Backends, server: ElasticCloudServer, lookups: Lookups,
            announce: Announce | None = None) -> tuple[Resolved, ProviderReads]:
    """`announce`: told the scheduler's choice for an ECS without a zone (default: post the ZoneChosen Event)."""
    namespace = server.metadata.namespace or ""
    zone_name = (server.spec.availability_zone or server.status.zone
                 or _choose_zone(backends, server, lookups, announce or announce_zone))
    zone, reads = zone_and_reads(backends, lookups, zone_name)
    outside = outside_region(zone_name, zone.spec.region, server.spec.region)
    if not server.status.unique_id and outside:
        raise Unresolvable(Reason.ZONE_NOT_IN_REGION, outside)
    if not server.status.unique_id and not selector_matches(zone.spec.allowed_namespaces,
                                                            lookups.namespace_labels(namespace)):
        raise Unresolvable(Reason.ZONE_NOT_ALLOWED, f"AvailabilityZone {zone_name} does not allow namespace "
                           f"{namespace} (spec.allowedNamespaces)")
    if server.spec.adopt_from is not None and not server.status.unique_id:
        closed = adoption.closed(zone, namespace, lookups.namespace_labels(namespace))
        if closed:
            raise Unresolvable(Reason.ADOPTION_REFUSED, closed)
    wanted = server.spec.image
    # Visibility (own namespace / namespaceSelector) and the template the image resolved: image_access.
    image = (image_for(namespace, wanted.kind, wanted.name, lookups, provisioned=bool(server.status.unique_id))
             if wanted is not None else None)
    holder = image_provider(server.spec, namespace, lookups)
    ref = zone.spec.provider
    if wanted is not None and not server.status.unique_id and holder not in {None, (ref.kind.value, ref.name)}:
        kind, name = holder or ("", "")
        raise Unresolvable(Reason.IMAGE_NOT_IN_ZONE, f"{wanted.kind.value} {wanted.name} is on {kind} {name}, but zone "
                           f"{zone_name} is on {ref.kind.value} {ref.name}: a template is cloned on its own backend")
    pool_path = None
    if server.spec.resource_pool:
        pool = lookups.pool(server.spec.resource_pool)
        if pool is None:
            raise Unresolvable(Reason.RESOURCE_POOL_NOT_FOUND, f"ResourcePool {server.spec.resource_pool} not found")
        check_pool(server, pool, zone_name, lookups)  # zone and spec.allowedNamespaces
        pool_path = (pool.get("status") or {}).get("path")
        if not pool_path:
            raise Unresolvable(Reason.RESOURCE_POOL_NOT_READY, f"ResourcePool {server.spec.resource_pool} is not ready")
    return Resolved(server, zone, image, pool_path), reads


def observed_pool(vm: ObservedVM | None, zone: str, lookups: Lookups) -> str | None:
    """The ResourcePool the VM is in, by its backend pool's name (a ResourcePool's pool or cloud is named after
    it); None for the zone's own pool, another zone's or one herder does not know."""
    name = vm.resource_pool if vm is not None else None
    body = lookups.pool(name) if name else None
    return name if body is not None and (body.get("spec") or {}).get("zone") == zone else None


def check_pool(server: ElasticCloudServer, pool: dict[str, Any], zone: str, lookups: Lookups) -> None:
    """The ECS's ResourcePool must be in its zone and admit its namespace (spec.allowedNamespaces)."""
    name, namespace = server.spec.resource_pool, server.metadata.namespace or ""
    spec = ResourcePool.model_validate(pool).spec
    if spec.zone != zone:
        raise Unresolvable(Reason.RESOURCE_POOL_INVALID, f"ResourcePool {name} is in zone {spec.zone}, not {zone}")
    if not selector_matches(spec.allowed_namespaces, lookups.namespace_labels(namespace)):
        raise Unresolvable(Reason.RESOURCE_POOL_NOT_ALLOWED,
                           f"ResourcePool {name} does not allow namespace {namespace} (spec.allowedNamespaces)")


def _choose_zone(backends: Backends, server: ElasticCloudServer, lookups: Lookups, announce: Announce) -> str:
    """The scheduler's zone for an ECS that names none (herder.reconcile.zone), announced.
    The choice is recorded in status.zone and kept from then on."""
    namespace = server.metadata.namespace or ""
    choice = choose_zone(request_for(server.spec, namespace, lookups), candidates(backends, lookups, namespace))
    if choice.zone is None:
        raise Unresolvable(choice.reason, choice.message)
    announce(server, choice)
    return choice.zone


def announce_zone(server: ElasticCloudServer, choice: ZoneChoice) -> None:
    """Post the choice as a ZoneChosen Event, once per ECS and zone."""
    namespace = server.metadata.namespace or ""
    uid = server.metadata.uid or ""
    if choice.zone is not None and _announced.get(uid) != choice.zone:
        _announced[uid] = choice.zone
        body = {"apiVersion": server.api_version, "kind": server.kind,
                "metadata": {"name": server.metadata.name, "namespace": namespace, "uid": uid}}
        with contextlib.suppress(LookupError):  # outside a running operator there is no event queue
            kopf.event(cast(kopf.Body, body), type="Normal", reason="ZoneChosen", message=choice.message[:1000])
        log.info("ECS %s/%s: %s", namespace, server.metadata.name, choice.message)


_announced: dict[str, str] = {}  # ECS uid -> the zone whose choice was posted as an Event
