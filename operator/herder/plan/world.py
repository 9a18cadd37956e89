"""The herder objects as they will be once the input is applied: the live ones, with each input object in
place of its live self and the pruned ones gone. The planners read it through the same `Lookups` the operator
builds from Kopf's indexes, filled by the same index functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from herder.api.metadata import Scope
from herder.api.registry import BY_KIND
from herder.controllers.ecs import handlers as ecs_handlers
from herder.controllers.ecsset.sync import child_of
from herder.controllers.image import handlers as image_handlers
from herder.controllers.pool import handlers as pool_handlers
from herder.controllers.quota import handlers as quota_handlers
from herder.controllers.restore import handlers as restore_handlers
from herder.controllers.shared.indexes import Lookups
from herder.controllers.snapshot import handlers as snapshot_handlers
from herder.controllers.zone import handlers as zone_handlers
from herder.reconcile.ecsset import Child

Body = dict[str, Any]
Key = tuple[str, str | None, str]  # (kind, namespace, name)


def key_of(body: Body) -> Key:
    meta = body.get("metadata") or {}
    kind = str(body.get("kind"))
    namespace = meta.get("namespace") if BY_KIND[kind].scope is Scope.NAMESPACED else None
    return kind, namespace, str(meta.get("name"))


class World:
    def __init__(self, objects: Iterable[Body], namespace_labels: dict[str, dict[str, str]]) -> None:
        self._objects: dict[Key, Body] = {key_of(body): body for body in objects}
        self._labels = namespace_labels
        self._lookups: Lookups | None = None

    def put(self, body: Body) -> None:
        self._objects[key_of(body)] = body
        self._lookups = None

    def remove(self, key: Key) -> None:
        self._objects.pop(key, None)
        self._lookups = None

    def get(self, key: Key) -> Body | None:
        return self._objects.get(key)

    def of_kind(self, kind: str) -> list[Body]:
        return [body for (k, _, _), body in sorted(self._objects.items(), key=lambda kv: str(kv[0]))
                if k == kind]

    def children(self, namespace: str, set_uid: str) -> list[Child]:
        """What the set with `set_uid` sees of its ECSs (by their ownerReferences)."""
        found = []
        for body in self.of_kind("ElasticCloudServer"):
            meta = body.get("metadata") or {}
            owned = child_of(str(meta.get("name")), body)
            if owned is not None and owned[0] == set_uid and meta.get("namespace") == namespace:
                found.append(owned[1])
        return found

    @property
    def lookups(self) -> Lookups:
        if self._lookups is None:
            self._lookups = self._index()
        return self._lookups

    def _index(self) -> Lookups:
        """The operator's indexes over this world, filled by its own index handlers."""
        found = {name: self._indexed(kind, handler) for name, (kind, handler) in _INDEXES.items()}
        namespaces = {name: [labels] for name, labels in self._labels.items()}
        return Lookups(**found, namespaces=cast(Any, namespaces))

    def _indexed(self, kind: str, handler: Any) -> Any:
        """{key: [value per object]} as Kopf keeps an index: the handler asked once per object of `kind`."""
        index: dict[Any, list[Any]] = defaultdict(list)
        for body in self.of_kind(kind):
            meta = body.get("metadata") or {}
            for key, value in handler(body=body, spec=body.get("spec") or {}, status=body.get("status") or {},
                                      namespace=meta.get("namespace"), name=meta.get("name"),
                                      uid=meta.get("uid") or "", labels=meta.get("labels") or {}).items():
                index[key].append(value)
        return dict(index)


# Lookups field -> (the kind it indexes, the operator's index handler), as `Lookups.of` reads Kopf's indexes. (Kopf
# types its decorated handlers as its own IndexingFn: called here with the keywords they take.)
_INDEXES: dict[str, tuple[str, Any]] = {
    "zones": ("AvailabilityZone", zone_handlers.zone_index),
    "images": ("Image", image_handlers.image_index),
    "cluster_images": ("ClusterImage", image_handlers.cluster_image_index),
    "pools": ("ResourcePool", pool_handlers.pool_index),
    "server_zones": ("ElasticCloudServer", ecs_handlers.server_zone_index),
    "pool_users": ("ElasticCloudServer", ecs_handlers.pool_user_index),
    "server_claims": ("ElasticCloudServer", ecs_handlers.server_claim_index),
    "quotas": ("ServerQuota", quota_handlers.quota_index),
    "server_usage": ("ElasticCloudServer", ecs_handlers.server_usage_index),
    "image_usage": ("Image", image_handlers.image_usage_index),
    "servers": ("ElasticCloudServer", snapshot_handlers.snapshot_server_index),
    "snapshots": ("ServerSnapshot", snapshot_handlers.snapshot_index),
    "held": ("ServerSnapshot", snapshot_handlers.schedule_held_index),
    "restore_holds": ("ServerSnapshotRestore", restore_handlers.restore_hold_index),
    "image_users": ("ElasticCloudServer", ecs_handlers.image_user_index),
}
