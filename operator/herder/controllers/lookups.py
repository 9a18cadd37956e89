"""In-memory indexes of the objects an ECS references, so a reconcile reads no Kubernetes API.

Kopf fills the indexes before any handler runs and keeps them current from its watch streams.
A change to a zone, image, pool or namespace wakes the servers, which may have been waiting for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from herder import GROUP, VERSION
from herder.api import quantity_to_mib
from herder.api.zone import AvailabilityZone
from herder.controllers.runtime import ProviderHandle, Runtime, runtime_of
from herder.controllers.status import condition_in
from herder.reconcile.desired import Unresolvable

Body = dict[str, Any]


@kopf.index(GROUP, VERSION, "availabilityzones")
def zone_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Body]:
    return {name: dict(body)}


@kopf.index(GROUP, VERSION, "images")
def image_index(*, namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Body]:
    return {(namespace or "", name): dict(body)}


@kopf.index(GROUP, VERSION, "clusterimages")
def cluster_image_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Body]:
    return {name: dict(body)}


@kopf.index(GROUP, VERSION, "resourcepools")
def pool_index(*, name: str, body: kopf.Body, **_: Any) -> dict[str, Body]:
    return {name: dict(body)}


@kopf.index("namespaces")
def namespace_index(*, name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    """Namespace labels, for ResourcePool.spec.allowedNamespaces and ClusterImage.spec.namespaceSelector."""
    return {name: dict(labels)}


@kopf.index(GROUP, VERSION, "elasticcloudservers")
def server_zone_index(*, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, int] | None:
    """{zone: memory MiB it is about to take} per ECS that has a zone. Memory counts while the ECS's VM is
    being made or powered on (a create in flight, or a VM that should run and does not yet): once it runs, the
    zone's measured use (status.capacity.memoryUsed) includes it. An ECS stuck before its VM exists (a
    missing image, say) takes nothing."""
    zone = spec.get("availabilityZone") or status.get("zone")
    if not zone:
        return None
    creating = (status.get("pendingTask") or {}).get("operation") == "create"
    starting = creating or (bool(status.get("uniqueID")) and status.get("powerState") != "On")
    if spec.get("powerState", "On") != "On" or not starting:
        return {str(zone): 0}
    try:
        return {str(zone): quantity_to_mib(spec.get("memory") or 0)}
    except ValueError:
        return {str(zone): 0}


@kopf.index(GROUP, VERSION, "elasticcloudservers")
def pool_user_index(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, str] | None:
    """{ResourcePool name: "namespace/name"} per ECS that names a pool: a pool is not deleted under them."""
    pool = spec.get("resourcePool")
    return {str(pool): f"{namespace}/{name}"} if pool else None


def _decisive(body: kopf.Body) -> str:
    """What of a dependency can change a server's decision: its spec (generation), labels, readiness, the
    template or pool it resolved, its number of hosts. Not its messages, progress or usage readings."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    ready = (condition_in(status, "Ready") or {}).get("status")
    return repr((meta.get("generation"), sorted((meta.get("labels") or {}).items()), ready,
                 status.get("uniqueID"), status.get("path"), (status.get("capacity") or {}).get("hosts")))


@kopf.on.event("namespaces")
@kopf.on.event(GROUP, VERSION, "availabilityzones")
@kopf.on.event(GROUP, VERSION, "images")
@kopf.on.event(GROUP, VERSION, "clusterimages")
@kopf.on.event(GROUP, VERSION, "resourcepools")
def dependency_changed(*, type: str | None, uid: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Wake the servers (and whatever else waits on dependencies) when a zone, image, pool or namespace
    changed in a way that matters; their own frequent status writes (progress, usage) wake nobody."""
    fingerprint = None if type == "DELETED" else _decisive(body)
    if runtime_of(memo).changed(f"dependency/{uid}", fingerprint):
        runtime_of(memo).wake_all()


def _one(index: kopf.Index[Any, Body], key: Any) -> Body | None:
    store = index.get(key)
    return next(iter(store), None) if store is not None else None


@dataclass(frozen=True)
class Lookups:
    """The indexes Kopf injects into handlers, as typed getters."""

    zones: kopf.Index[str, Body]
    images: kopf.Index[tuple[str, str], Body]
    cluster_images: kopf.Index[str, Body]
    pools: kopf.Index[str, Body]
    namespaces: kopf.Index[str, dict[str, str]] | None = None
    server_zones: kopf.Index[str, int] | None = None
    pool_users: kopf.Index[str, str] | None = None

    @classmethod
    def of(cls, kwargs: dict[str, Any]) -> Lookups:
        return cls(kwargs["zone_index"], kwargs["image_index"], kwargs["cluster_image_index"],
                   kwargs["pool_index"], kwargs.get("namespace_index"), kwargs.get("server_zone_index"),
                   kwargs.get("pool_user_index"))

    def zone(self, name: str) -> Body | None:
        return _one(self.zones, name)

    def zone_names(self) -> list[str]:
        return sorted(self.zones.keys())

    def image(self, namespace: str, name: str) -> Body | None:
        return _one(self.images, (namespace, name))

    def cluster_image(self, name: str) -> Body | None:
        return _one(self.cluster_images, name)

    def pool(self, name: str) -> Body | None:
        return _one(self.pools, name)

    def pool_names(self) -> list[str]:
        return sorted(self.pools.keys())

    def pool_dependents(self, name: str) -> list[str]:
        """What still uses ResourcePool `name`: its ECSs ("ElasticCloudServer ns/x") and child pools."""
        users = sorted(self.pool_users.get(name) or ()) if self.pool_users is not None else []
        children = sorted(p for p in self.pool_names()
                          if ((self.pool(p) or {}).get("spec") or {}).get("parent") == name)
        return [f"ElasticCloudServer {u}" for u in users] + [f"ResourcePool {c}" for c in children]

    def namespace_labels(self, name: str) -> dict[str, str]:
        """The namespace's labels ({} while unknown)."""
        found = _one(self.namespaces, name) if self.namespaces is not None else None
        return dict(found or {})

    def zone_load(self, zone: str) -> tuple[int, int]:
        """(number of ECSs, memory MiB those not running yet will take) in `zone`."""
        store = self.server_zones.get(zone) if self.server_zones is not None else None
        values = list(store or ())
        return len(values), sum(values)


def zone_and_provider(runtime: Runtime, lookups: Lookups, zone_name: str) -> tuple[AvailabilityZone, ProviderHandle]:
    """The zone and its connected provider, or Unresolvable (ZoneNotFound, ProviderNotReady)."""
    body = lookups.zone(zone_name)
    if body is None:
        raise Unresolvable("ZoneNotFound", f"AvailabilityZone {zone_name} not found")
    zone = AvailabilityZone.model_validate(body)
    return zone, runtime.ready_provider(zone.spec.provider.kind.value, zone.spec.provider.name)
