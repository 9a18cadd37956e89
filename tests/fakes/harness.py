"""Sync passes without Kopf: a real `Runtime` holding the fake provider, `Lookups` over plain dicts (a
`kopf.Index` is a mapping of key -> store of values, so `{key: [body]}` serves), and the bodies passes read.

Passes never run the Runtime's event loop: the wake-ups they or the inventory feed send just queue on it (a
test that wants to see one delivered runs the loop briefly).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any, cast

from fakes.provider import CLUSTER, DATASTORE, FOLDER, NETWORK, TEMPLATE, FakeProvider
from herder.api.metadata import API_VERSION
from herder.controllers.ecs.sync import sync_server
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import ProviderHandle, ProviderKey, Runtime
from herder.controllers.snapshot.views import held_of, server_view, snapshot_view
from herder.providers.types import ObservedVM
from herder.reasons import Reason

Body = dict[str, Any]
VCENTER: ProviderKey = ("VCenter", "vcsim")
NAMESPACE = "team-a"
ZONE = "dc0-c0"
IMAGE = "ubuntu"  # a ClusterImage of the fake's template
# The Lookups indexes the harness keeps (the quota ones stay unset).
_LOOKUPS = ("zones", "images", "cluster_images", "pools", "namespaces", "server_zones", "pool_users", "servers",
            "snapshots", "held", "restore_holds")
_INDEXED = {"AvailabilityZone": "zones", "ClusterImage": "cluster_images", "ResourcePool": "pools", "Image": "images"}


def _metadata(name: str, namespace: str | None, annotations: dict[str, str] | None = None) -> Body:
    meta: Body = {"name": name, "uid": str(uuid.uuid4()), "generation": 1, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def zone(name: str = ZONE, **placement: str) -> Body:
    """An AvailabilityZone on the fake vCenter, open to adoption from its folder by every namespace; `placement`
    overrides spec.vcenter fields (camelCase)."""
    where = {"cluster": CLUSTER, "datastore": DATASTORE, "network": NETWORK, "folder": FOLDER} | placement
    return {"apiVersion": API_VERSION, "kind": "AvailabilityZone", "metadata": _metadata(name, None),
            "spec": {"region": "region-1", "provider": {"kind": VCENTER[0], "name": VCENTER[1]}, "vcenter": where,
                     "adoption": {"allowedNamespaces": {}, "folders": [FOLDER]}}}


def cluster_image(name: str = IMAGE, template: str = TEMPLATE, **spec: Any) -> Body:
    """A ClusterImage adopting an existing template, no status yet (an ECS then clones it by its spec)."""
    return {"apiVersion": API_VERSION, "kind": "ClusterImage", "metadata": _metadata(name, None),
            "spec": {"provider": {"kind": VCENTER[0], "name": VCENTER[1]}, "source": {"existing": {"name": template}},
                     "osFamily": "Linux"} | spec}


def captured_image(name: str, server_name: str, power_policy: str = "GuestShutdown", **spec: Any) -> Body:
    """An Image that captures ECS `server_name` of its namespace."""
    return {"apiVersion": API_VERSION, "kind": "Image", "metadata": _metadata(name, NAMESPACE),
            "spec": {"provider": {"kind": VCENTER[0], "name": VCENTER[1]}, "osFamily": "Linux",
                     "source": {"fromServer": {"name": server_name, "powerPolicy": power_policy}}} | spec}


def server(name: str = "web-1", *, annotations: dict[str, str] | None = None, **spec: Any) -> Body:
    """An ElasticCloudServer from the ClusterImage in the zone; `spec` overrides fields (camelCase)."""
    wanted = {"image": {"kind": "ClusterImage", "name": IMAGE}, "availabilityZone": ZONE, "cpu": 2,
              "memory": "4Gi"} | spec
    return {"apiVersion": API_VERSION, "kind": "ElasticCloudServer",
            "metadata": _metadata(name, NAMESPACE, annotations), "spec": wanted}


def pool(name: str, **spec: Any) -> Body:
    wanted = {"zone": ZONE, "cpu": {"reservation": 2000}, "memory": {"reservation": "4Gi"}} | spec
    return {"apiVersion": API_VERSION, "kind": "ResourcePool", "metadata": _metadata(name, None), "spec": wanted}


def server_set(name: str, replicas: int, **template_spec: Any) -> Body:
    spec = {"image": {"kind": "ClusterImage", "name": IMAGE}, "cpu": 1, "memory": "2Gi"} | template_spec
    return {"apiVersion": API_VERSION, "kind": "ElasticCloudServerSet", "metadata": _metadata(name, NAMESPACE),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def server_snapshot(name: str, server_name: str = "web-1", **spec: Any) -> Body:
    return {"apiVersion": API_VERSION, "kind": "ServerSnapshot", "metadata": _metadata(name, NAMESPACE),
            "spec": {"server": server_name} | spec}


def snapshot_restore(name: str, snapshot_name: str, **spec: Any) -> Body:
    return {"apiVersion": API_VERSION, "kind": "ServerSnapshotRestore", "metadata": _metadata(name, NAMESPACE),
            "spec": {"snapshot": snapshot_name} | spec}


def advance(body: Body, result: Pass) -> Body:
    """The body once the daemon wrote the pass's status (a key set to None is removed)."""
    status = {key: value for key, value in {**(body.get("status") or {}), **result.status}.items()
              if value is not None}
    return {**body, "status": status}


def changed(body: Body, *, annotations: dict[str, str] | None = None, **spec: Any) -> Body:
    """The body after a user's edit: a spec change bumps the generation."""
    edited = copy.deepcopy(body)
    meta = edited["metadata"]
    if annotations is not None:
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    if spec:
        edited["spec"] |= spec
        meta["generation"] += 1
    return edited


def condition(status: Body, type_: str) -> Body:
    """Condition `type_` of a status; fails the test when there is none."""
    found = [c for c in status.get("conditions") or [] if c["type"] == type_]
    assert found, f"no {type_} condition in {status.get('conditions')}"
    return dict(found[0])


def reason(status: Body, type_: str = "Ready") -> str:
    return str(condition(status, type_)["reason"])


class Harness:
    """One fake vCenter connected in a Runtime, with the zone dc0-c0 and the ClusterImage ubuntu indexed."""

    def __init__(self) -> None:
        self.fake = FakeProvider()
        self.runtime = Runtime(asyncio.new_event_loop())
        self.connect(VCENTER, self.fake)
        self.indexes: dict[str, dict[Any, list[Any]]] = {name: {} for name in _LOOKUPS}
        self.add(zone())
        self.add(cluster_image())

    def connect(self, key: ProviderKey, fake: FakeProvider) -> ProviderHandle:
        """What a connection pass leaves behind: a ready handle whose inventory feeds the Runtime."""
        handle = self.runtime.providers[key] = ProviderHandle(fake, "fake", "", ready=True, reason=Reason.CONNECTED,
                                                              watching=True)
        fake.inventory.subscribe(self.runtime.on_inventory_change)
        fake.inventory.start()
        return handle

    @property
    def lookups(self) -> Lookups:
        index = self.indexes
        return Lookups(**{name: cast(Any, index[name]) for name in _LOOKUPS})

    def add(self, body: Body) -> Body:
        """Index a zone, image, ClusterImage or ResourcePool, as Kopf would from its watch."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"]) if body["kind"] == "Image" else meta["name"]
        self.indexes[_INDEXED[body["kind"]]][key] = [body]
        return body

    def index(self, body: Body) -> Body:
        """Index an ElasticCloudServer or ServerSnapshot as snapshots, restores and schedules see it (the
        snapshot controller's Kopf indexes)."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        if body["kind"] == "ElasticCloudServer":
            self.indexes["servers"][key] = [server_view(meta["name"], body)]
        else:
            self.indexes["snapshots"][key] = [snapshot_view(meta["name"], body)]
            held = held_of(meta["name"], body)
            for store in self.indexes["held"].values():
                store[:] = [h for h in store if h.name != meta["name"]]
            if held is not None:
                self.indexes["held"].setdefault((meta["namespace"], held[0]), []).append(held[1])
        return body

    def unindex(self, body: Body) -> None:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        self.indexes["servers" if body["kind"] == "ElasticCloudServer" else "snapshots"].pop(key, None)
        for store in self.indexes["held"].values():
            store[:] = [h for h in store if h.name != meta["name"]]

    def hold(self, server_body: Body, restore_body: Body | None) -> None:
        """What the restore-hold index says of the server: held still by `restore_body`, or (None) by none."""
        key = (server_body["metadata"]["namespace"], server_body["metadata"]["name"])
        if restore_body is None:
            self.indexes["restore_holds"].pop(key, None)
        else:
            self.indexes["restore_holds"][key] = [(restore_body["metadata"]["uid"], restore_body["metadata"]["name"])]

    def remove(self, body: Body) -> None:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"]) if body["kind"] == "Image" else meta["name"]
        del self.indexes[_INDEXED[body["kind"]]][key]

    def sync(self, body: Body) -> tuple[Body, Pass]:
        """One ECS pass, and the body with its status written."""
        result = sync_server(self.runtime, body, self.lookups)
        return advance(body, result), result

    def provision(self, body: Body) -> tuple[Body, ObservedVM]:
        """An ECS taken through its create to a running VM; the fake's call log starts afresh."""
        body, _ = self.sync(body)
        self.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
        body, _ = self.sync(body)
        vm = self.fake.vms.get(body["status"]["managedObjectID"])
        assert vm is not None
        self.fake.calls.clear()
        return body, vm

    def close(self) -> None:
        self.runtime.loop.close()
