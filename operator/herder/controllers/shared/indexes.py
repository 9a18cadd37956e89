"""In-memory indexes of the objects an ECS references, so a reconcile reads no Kubernetes API.

Kopf fills the indexes (declared in each kind's handlers) before any handler runs and keeps them current from
its watch streams. A change to a zone, image, pool or namespace wakes the servers, which may have been
waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from herder.api.zone import AvailabilityZone
from herder.controllers.shared.runtime import ProviderHandle, Runtime
from herder.controllers.shared.status import condition_in
from herder.errors import Unresolvable
from herder.reasons import Reason

Body = dict[str, Any]


def decisive(body: Mapping[str, Any]) -> str:
    """What of a dependency can change a server's decision: its spec (generation), labels, readiness, the
    template or pool it resolved, its number of hosts. Not its messages, progress or usage readings."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    ready = (condition_in(status, "Ready") or {}).get("status")
    return repr((meta.get("generation"), sorted((meta.get("labels") or {}).items()), ready,
                 status.get("uniqueID"), status.get("path"), (status.get("capacity") or {}).get("hosts")))


def dependency_changed(runtime: Runtime, event_type: str | None, uid: str, body: Mapping[str, Any]) -> None:
    """Wake the servers (and whatever else waits on dependencies) when a zone, image, pool or namespace
    changed in a way that matters; their own frequent status writes (progress, usage) wake nobody."""
    fingerprint = None if event_type == "DELETED" else decisive(body)
    if runtime.changed(f"dependency/{uid}", fingerprint):
        runtime.wake_all()


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
    image_users: kopf.Index[str, str] | None = None

    @classmethod
    def of(cls, kwargs: dict[str, Any]) -> Lookups:
        return cls(kwargs["zone_index"], kwargs["image_index"], kwargs["cluster_image_index"],
                   kwargs["pool_index"], kwargs.get("namespace_index"), kwargs.get("server_zone_index"),
                   kwargs.get("pool_user_index"), kwargs.get("image_user_index"))

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

    def image_dependents(self, kind: str, namespace: str | None, name: str) -> list[str]:
        """The ECSs ("namespace/name") whose spec.image names this Image or ClusterImage."""
        if self.image_users is None:
            return []
        return sorted(self.image_users.get(image_key(kind, namespace, name)) or ())

    def namespace_labels(self, name: str) -> dict[str, str]:
        """The namespace's labels ({} while unknown)."""
        found = _one(self.namespaces, name) if self.namespaces is not None else None
        return dict(found or {})

    def zone_load(self, zone: str) -> tuple[int, int]:
        """(number of ECSs, memory MiB those not running yet will take) in `zone`."""
        store = self.server_zones.get(zone) if self.server_zones is not None else None
        values = list(store or ())
        return len(values), sum(values)


def image_key(kind: str, namespace: str | None, name: str) -> str:
    """How an ECS's spec.image names an image: an Image of its own namespace, or a ClusterImage."""
    return f"Image/{namespace}/{name}" if kind == "Image" else f"ClusterImage/{name}"


def zone_and_provider(runtime: Runtime, lookups: Lookups, zone_name: str) -> tuple[AvailabilityZone, ProviderHandle]:
    """The zone and its connected provider, or Unresolvable (ZoneNotFound, ProviderNotReady)."""
    body = lookups.zone(zone_name)
    if body is None:
        raise Unresolvable(Reason.ZONE_NOT_FOUND, f"AvailabilityZone {zone_name} not found")
    zone = AvailabilityZone.model_validate(body)
    return zone, runtime.ready_provider(zone.spec.provider.kind.value, zone.spec.provider.name)
