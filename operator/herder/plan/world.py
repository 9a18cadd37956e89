"""The herder objects as they will be once the input is applied: the live ones, with each input object in
place of its live self and the pruned ones gone. The planners read it through the same `Lookups` the operator
builds from Kopf's indexes, filled by the same index functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from herder.api.metadata import Scope
from herder.api.registry import BY_KIND
from herder.controllers.ecsset.sync import child_of
from herder.controllers.shared.indexes import Lookups
from herder.reconcile.ecsset import Child
from herder.reconcile.zone import pending_memory

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
        """The operator's indexes (see each kind's handlers.py) over this world."""
        zones = {str(b["metadata"]["name"]): [b] for b in self.of_kind("AvailabilityZone")}
        images = {(str(b["metadata"].get("namespace") or ""), str(b["metadata"]["name"])): [b]
                  for b in self.of_kind("Image")}
        cluster_images = {str(b["metadata"]["name"]): [b] for b in self.of_kind("ClusterImage")}
        pools = {str(b["metadata"]["name"]): [b] for b in self.of_kind("ResourcePool")}
        namespaces = {name: [labels] for name, labels in self._labels.items()}
        server_zones: dict[str, list[int]] = defaultdict(list)
        pool_users: dict[str, list[str]] = defaultdict(list)
        for body in self.of_kind("ElasticCloudServer"):
            spec, meta = body.get("spec") or {}, body.get("metadata") or {}
            for zone, memory in (pending_memory(spec, body.get("status") or {}) or {}).items():
                server_zones[zone].append(memory)
            if spec.get("resourcePool"):
                pool_users[str(spec["resourcePool"])].append(f"{meta.get('namespace')}/{meta.get('name')}")
        return Lookups(*(cast(Any, index) for index in (zones, images, cluster_images, pools, namespaces,
                                                         dict(server_zones), dict(pool_users))))
