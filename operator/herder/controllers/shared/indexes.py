"""In-memory indexes of the objects an ECS references, so a reconcile reads no Kubernetes API.

Kopf fills the indexes (declared in each kind's handlers) before any handler runs and keeps them current from
its watch streams. A change to a zone, image, pool or namespace wakes the servers, which may have been
waiting for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf

from herder.api import quantity_to_bytes
from herder.api.ecs import ImageKind, ImageRef
from herder.api.quota import ServerQuota
from herder.api.zone import AvailabilityZone
from herder.controllers.shared.runtime import Backends, ProviderHandle, Runtime
from herder.controllers.shared.status import condition_in
from herder.errors import Unresolvable
from herder.providers.base import ProviderReads
from herder.reasons import Reason
from herder.reconcile.quota import Quota, Usage
from herder.reconcile.restore import SnapshotView
from herder.reconcile.schedule import Held
from herder.reconcile.snapshot import ServerView

Body = dict[str, Any]
T = TypeVar("T")


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


def _one(index: kopf.Index[Any, T], key: Any) -> T | None:
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
    server_claims: kopf.Index[str, str] | None = None
    quotas: kopf.Index[str, Body] | None = None
    server_usage: kopf.Index[str, tuple[str, Usage]] | None = None
    image_usage: kopf.Index[str, tuple[str, Usage]] | None = None
    servers: kopf.Index[tuple[str, str], ServerView] | None = None
    snapshots: kopf.Index[tuple[str, str], SnapshotView] | None = None
    held: kopf.Index[tuple[str, str], Held] | None = None  # by (namespace, schedule UID)
    restore_holds: kopf.Index[tuple[str, str], tuple[str, str]] | None = None  # (namespace, server) -> (UID, name)
    image_users: kopf.Index[str, str] | None = None  # image key -> "namespace/name" of the ECSs made from it

    @classmethod
    def of(cls, kwargs: dict[str, Any]) -> Lookups:
        return cls(zones=kwargs["zone_index"], images=kwargs["image_index"],
                   cluster_images=kwargs["cluster_image_index"], pools=kwargs["pool_index"],
                   namespaces=kwargs.get("namespace_index"), server_zones=kwargs.get("server_zone_index"),
                   pool_users=kwargs.get("pool_user_index"), server_claims=kwargs.get("server_claim_index"),
                   quotas=kwargs.get("quota_index"), server_usage=kwargs.get("server_usage_index"),
                   image_usage=kwargs.get("image_usage_index"), servers=kwargs.get("snapshot_server_index"),
                   snapshots=kwargs.get("snapshot_index"), held=kwargs.get("schedule_held_index"),
                   restore_holds=kwargs.get("restore_hold_index"),
                   image_users=kwargs.get("image_user_index"))

    def zone(self, name: str) -> Body | None:
        return _one(self.zones, name)

    def zone_names(self) -> list[str]:
        return sorted(self.zones.keys())

    def image(self, namespace: str, name: str) -> Body | None:
        return _one(self.images, (namespace, name))

    def cluster_image(self, name: str) -> Body | None:
        return _one(self.cluster_images, name)

    def image_size(self, namespace: str, ref: ImageRef | None) -> int:
        """Bytes of the template an ECS's image resolved (0 while unknown): a clone's OS disk, unless its spec
        sizes it."""
        if ref is None:
            return 0
        body = self.image(namespace, ref.name) if ref.kind is ImageKind.IMAGE else self.cluster_image(ref.name)
        size = ((body or {}).get("status") or {}).get("size")
        return quantity_to_bytes(size) if size else 0

    def pool(self, name: str) -> Body | None:
        return _one(self.pools, name)

    def pool_names(self) -> list[str]:
        return sorted(self.pools.keys())

    def pool_parent(self, name: str) -> str | None:
        return ((self.pool(name) or {}).get("spec") or {}).get("parent")

    def pool_ancestors(self, name: str) -> list[str]:
        """ResourcePool `name`'s parent, its parent's parent, ...; a chain that comes back to a pool already on
        it (a cycle: pools made in an order that let each name the other) ends there, with that pool last."""
        chain: list[str] = []
        current = self.pool_parent(name)
        while current is not None and current not in chain:
            chain.append(current)
            if current == name:
                break
            current = self.pool_parent(current)
        return chain

    def pool_dependents(self, name: str) -> list[str]:
        """What still uses ResourcePool `name`: its ECSs ("ElasticCloudServer ns/x") and child pools. A child that
        is also an ancestor (a cycle of parents) does not hold it: nothing of a cycle was ever made."""
        users = sorted(self.pool_users.get(name) or ()) if self.pool_users is not None else []
        cycle = {name, *self.pool_ancestors(name)}
        children = sorted(p for p in self.pool_names() if self.pool_parent(p) == name and p not in cycle)
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

    def claimants(self, unique_id: str) -> frozenset[str]:
        """The UIDs of the ECSs that claim a VM by this unique ID: as their own UID (a VM herder made for them)
        or as the VM they recorded (one they adopted)."""
        store = self.server_claims.get(unique_id) if self.server_claims is not None else None
        return frozenset(store or ())

    def namespace_quotas(self, namespace: str) -> list[Quota]:
        """Every ServerQuota of the namespace (all of them apply), by name."""
        store = self.quotas.get(namespace) if self.quotas is not None else None
        found = [ServerQuota.model_validate(body) for body in store or ()]
        return sorted((Quota.of(q.metadata.name or "", q.spec.hard) for q in found), key=lambda q: q.name)

    def quota_uids(self, namespace: str) -> list[str]:
        store = self.quotas.get(namespace) if self.quotas is not None else None
        return [str((body.get("metadata") or {}).get("uid")) for body in store or ()]

    def namespace_usage(self, namespace: str) -> dict[str, Usage]:
        """{object UID: what it takes} of the namespace's servers and private images, by their stored status."""
        found: dict[str, Usage] = {}
        for index in (self.server_usage, self.image_usage):
            store = index.get(namespace) if index is not None else None
            found.update(dict(store or ()))
        return found
    def server(self, namespace: str, name: str) -> ServerView | None:
        """What snapshots see of ElasticCloudServer `namespace/name` (None: it does not exist)."""
        return _one(self.servers, (namespace, name)) if self.servers is not None else None

    def servers_in(self, namespace: str) -> list[ServerView]:
        if self.servers is None:
            return []
        return [view for (ns, _), store in self.servers.items() if ns == namespace for view in store]

    def snapshot(self, namespace: str, name: str) -> SnapshotView | None:
        return _one(self.snapshots, (namespace, name)) if self.snapshots is not None else None

    def snapshots_in(self, namespace: str) -> list[SnapshotView]:
        if self.snapshots is None:
            return []
        return [view for (ns, _), store in self.snapshots.items() if ns == namespace for view in store]

    def held_by(self, namespace: str, schedule_uid: str) -> list[Held]:
        """The ServerSnapshots schedule `schedule_uid` made."""
        store = self.held.get((namespace, schedule_uid)) if self.held is not None else None
        return list(store or ())

    def restore_hold(self, namespace: str, server: str) -> tuple[str, str] | None:
        """(UID, name) of the restore that holds ElasticCloudServer `namespace/server` still; None: none does."""
        return _one(self.restore_holds, (namespace, server)) if self.restore_holds is not None else None

    def zone_load(self, zone: str) -> tuple[int, int]:
        """(number of ECSs, memory MiB those not running yet will take) in `zone`."""
        store = self.server_zones.get(zone) if self.server_zones is not None else None
        values = list(store or ())
        return len(values), sum(values)


def image_key(kind: str, namespace: str | None, name: str) -> str:
    """How an ECS's spec.image names an image: an Image of its own namespace, or a ClusterImage."""
    return f"Image/{namespace}/{name}" if kind == "Image" else f"ClusterImage/{name}"


def zone_named(lookups: Lookups, zone_name: str) -> AvailabilityZone:
    """The zone, or Unresolvable (ZoneNotFound)."""
    body = lookups.zone(zone_name)
    if body is None:
        raise Unresolvable(Reason.ZONE_NOT_FOUND, f"AvailabilityZone {zone_name} not found")
    return AvailabilityZone.model_validate(body)


def zone_and_provider(runtime: Runtime, lookups: Lookups, zone_name: str) -> tuple[AvailabilityZone, ProviderHandle]:
    """The zone and its connected provider, or Unresolvable (ZoneNotFound, ProviderNotReady)."""
    zone = zone_named(lookups, zone_name)
    return zone, runtime.ready_provider(zone.spec.provider.kind.value, zone.spec.provider.name)


def zone_and_reads(backends: Backends, lookups: Lookups, zone_name: str) -> tuple[AvailabilityZone, ProviderReads]:
    """The zone and its connected provider's reads, or Unresolvable (ZoneNotFound, ProviderNotReady)."""
    zone = zone_named(lookups, zone_name)
    return zone, backends.reads(zone.spec.provider.kind.value, zone.spec.provider.name)
