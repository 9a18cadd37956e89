"""The scheduler's inputs, as the controllers see them: zone candidates and what a server asks for.

One builder for both callers: a lone ECS without a zone (load: every server in the zone) and an ECS set
spreading its replicas (load: the set's own children, plus the ones it is creating in this pass).
"""

from __future__ import annotations

from collections.abc import Mapping

from herder.api import ElasticCloudServerSpec, ResourcePool
from herder.api.ecs import ImageKind
from herder.api.zone import AvailabilityZone
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Backends
from herder.reconcile.selectors import selector_matches
from herder.reconcile.vm_spec import image_ref
from herder.reconcile.zone import ZoneCandidate, ZoneRequest


def candidates(backends: Backends, lookups: Lookups, namespace: str, own_servers: Mapping[str, int] | None = None,
               extra_pending_mib: Mapping[str, int] | None = None) -> list[ZoneCandidate]:
    """Every zone with its provider's state, measured capacity, load and whether it admits `namespace`.
    `own_servers`: count these servers per zone instead of all of them (a set); `extra_pending_mib`: memory
    placed in this pass, not yet indexed."""
    labels = lookups.namespace_labels(namespace)
    found = []
    for name in lookups.zone_names():
        body = lookups.zone(name)
        if body is None:
            continue
        zone = AvailabilityZone.model_validate(body)
        ref = zone.spec.provider
        capacity = zone.status.capacity
        ready = zone.status.condition("Ready")
        servers, pending = lookups.zone_load(name)
        if own_servers is not None:
            servers = own_servers.get(name, 0)
        found.append(ZoneCandidate(
            name, (ref.kind.value, ref.name), region=zone.spec.region,
            provider_ready=backends.connected(ref.kind.value, ref.name),
            not_ready=ready.message or ready.reason if ready is not None and ready.status.value == "False" else None,
            namespace_allowed=selector_matches(zone.spec.allowed_namespaces, labels),
            allowed_networks=(frozenset(n.lower() for n in zone.spec.allowed_networks)
                              if zone.spec.allowed_networks is not None else None),
            memory_capacity_mib=capacity.memory.mib if capacity and capacity.memory else None,
            hosts=capacity.hosts if capacity else None,
            memory_used_mib=capacity.memory_used.mib if capacity and capacity.memory_used else 0,
            memory_pending_mib=pending + (extra_pending_mib or {}).get(name, 0), servers=servers))
    return found


def image_provider(spec: ElasticCloudServerSpec, namespace: str, lookups: Lookups) -> tuple[str, str] | None:
    """(kind, name) of the provider that holds the image; None when there is no image (yet)."""
    wanted = spec.image
    if wanted is None:
        return None
    body = lookups.image(namespace, wanted.name) if wanted.kind is ImageKind.IMAGE \
        else lookups.cluster_image(wanted.name)
    image_spec = (body or {}).get("spec") or {}
    provider = image_spec.get("provider")
    if provider:
        return str(provider.get("kind")), str(provider.get("name"))
    zone = lookups.zone(str(image_spec.get("availabilityZone") or ""))
    if zone is not None:
        ref = AvailabilityZone.model_validate(zone).spec.provider
        return ref.kind.value, ref.name
    return None


def request_for(spec: ElasticCloudServerSpec, namespace: str, lookups: Lookups, *, spread: bool = False) -> ZoneRequest:
    pool_name = spec.resource_pool
    pool = lookups.pool(pool_name) if pool_name else None
    pool_spec = ResourcePool.model_validate(pool).spec if pool else None
    return ZoneRequest(
        memory_mib=spec.memory.mib, image_provider=image_provider(spec, namespace, lookups),
        image=image_ref(spec) or "",
        pool_zone=pool_spec.zone if pool_spec else None, pool=pool_name or "",
        namespace_allowed=pool_spec is None or selector_matches(pool_spec.allowed_namespaces,
                                                                lookups.namespace_labels(namespace)),
        networks=tuple(nic.network for nic in spec.networks or () if nic.network), spread=spread,
        namespace=namespace, region=spec.region)
