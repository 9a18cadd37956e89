"""ElasticCloudServerSet: keep `replicas` ECS children (ownerReferences), spread across zones by the scheduler.

A minimal controller: it creates missing children and deletes surplus ones (the highest ordinals, not-Ready
first), and reports replicas, readyReplicas and the selector for the scale subresource. A template without a
zone gets one per child from herder.reconcile.scheduling: fewest of this set's children first, so the set
spreads round-robin over the eligible zones, then most free memory. Template changes reach only new children
(rolling updates are not implemented yet).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION, kube
from herder.api import quantity_to_mib
from herder.api.common import LabelSelector
from herder.api.ecsset import ElasticCloudServerSet
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import Runtime, runtime_of
from herder.controllers.status import new_status, publish
from herder.controllers.zone_choice import candidates, request_for
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.scheduling import choose_zone

PLURAL = "elasticcloudserversets"
SERVERS = "elasticcloudservers"
log = logging.getLogger(__name__)
Child = dict[str, Any]


@kopf.index(GROUP, VERSION, SERVERS)
def set_children_index(*, namespace: str | None, name: str, body: kopf.Body,
                       **_: Any) -> dict[tuple[str, str], Child] | None:
    """{(namespace, set uid): {name, ready, zone}} for ECSs owned by a set."""
    owners = [o for o in body.get("metadata", {}).get("ownerReferences") or []
              if o.get("kind") == "ElasticCloudServerSet"]
    if not owners:
        return None
    status = body.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    zone = body.get("spec", {}).get("availabilityZone") or status.get("zone")
    deleting = bool(body.get("metadata", {}).get("deletionTimestamp"))
    return {(namespace or "", owners[0]["uid"]): {"name": name, "ready": ready, "zone": zone, "deleting": deleting}}


@kopf.on.event(GROUP, VERSION, SERVERS)
def child_changed(*, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    for owner in body.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == "ElasticCloudServerSet":
            runtime_of(memo).wake(owner["uid"])


def selector_string(selector: LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or ():
        values = ",".join(req.values or ())
        parts.append({"In": f"{req.key} in ({values})", "NotIn": f"{req.key} notin ({values})",
                      "Exists": req.key, "DoesNotExist": f"!{req.key}"}[req.operator.value])
    return ",".join(parts)


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _zone_for(runtime: Runtime, server_set: ElasticCloudServerSet, children: list[Child], lookups: Lookups,
              placed: Mapping[str, int]) -> str:
    """The scheduler's zone for the next child: fewest of this set's children first (so the set spreads
    round-robin), then most free memory. `placed`: children made in this pass, per zone."""
    spec = server_set.spec.template.spec
    if spec.availability_zone:
        return spec.availability_zone
    own = Counter(str(c["zone"]) for c in children if c["zone"])
    memory = quantity_to_mib(spec.memory)
    zones = candidates(runtime, lookups, own_servers=own,
                       extra_pending_mib={zone: count * memory for zone, count in placed.items()})
    choice = choose_zone(request_for(spec, server_set.metadata.namespace or "", lookups, spread=True), zones)
    if choice.zone is None:
        raise kopf.TemporaryError(choice.message, delay=10)
    return choice.zone


def _child(server_set: ElasticCloudServerSet, name: str, zone: str) -> dict[str, Any]:
    template = server_set.spec.template
    spec = template.spec.model_dump(mode="json", by_alias=True, exclude_none=True) | {"availabilityZone": zone}
    meta = server_set.metadata
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ElasticCloudServer",
        "metadata": {"name": name, "namespace": meta.namespace, "labels": dict(template.metadata.labels or {}),
                     "annotations": dict(template.metadata.annotations or {}),
                     "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ElasticCloudServerSet",
                                          "name": meta.name, "uid": meta.uid, "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": spec,
    }


def scale(runtime: Runtime, body: dict[str, Any], children: list[Child], lookups: Lookups) -> dict[str, Any]:
    """One step toward `replicas`: create the missing children or delete the surplus. Returns status fields."""
    server_set = ElasticCloudServerSet.model_validate(body)
    namespace, name = server_set.metadata.namespace or "", server_set.metadata.name or ""
    live = sorted((c for c in children if not c["deleting"]), key=lambda c: _ordinal(c["name"]))
    wanted = server_set.spec.replicas
    if len(live) < wanted:
        taken = {_ordinal(c["name"]) for c in children}
        placed = list(live)
        made: Counter[str] = Counter()
        for _ in range(wanted - len(live)):
            ordinal = next(i for i in range(len(taken) + wanted + 1) if i not in taken)
            taken.add(ordinal)
            zone = _zone_for(runtime, server_set, placed, lookups, made)
            child_name = f"{name}-{ordinal}"
            kube.create_custom_object(SERVERS, namespace, _child(server_set, child_name, zone))
            placed.append({"name": child_name, "ready": False, "zone": zone, "deleting": False})
            made[zone] += 1
            log.info("ECS set %s/%s: created %s in zone %s", namespace, name, child_name, zone)
    elif len(live) > wanted:
        surplus = sorted(live, key=lambda c: (c["ready"], -_ordinal(c["name"])))  # not-Ready, then highest
        for child in surplus[: len(live) - wanted]:
            kube.delete_custom_object(SERVERS, namespace, child["name"])
    return {"replicas": len(live), "readyReplicas": sum(1 for c in live if c["ready"]),
            "updatedReplicas": len(live), "selector": selector_string(server_set.spec.selector)}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def set_daemon(*, body: kopf.Body, namespace: str | None, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                     **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    index: kopf.Index[tuple[str, str], Child] = kwargs["set_children_index"]
    status = dict(body.get("status") or {})
    try:
        while not stopped and not body.get("metadata", {}).get("deletionTimestamp"):
            children = list(index.get((namespace or "", uid), ()))
            delay: float | None = None
            try:
                fields = await asyncio.to_thread(scale, runtime, dict(body), children, lookups)
                replicas = int(body.get("spec", {}).get("replicas", 1))
                ok = fields["readyReplicas"] == replicas == fields["replicas"]
                ready = Condition(READY, ok, "Ready" if ok else "Scaling",
                                  f"{fields['readyReplicas']}/{replicas} servers ready")
            except (kopf.TemporaryError, ApiException) as exc:
                fields, delay = {}, runtime.backoff.failed(uid)
                ready = Condition(READY, False, "ScaleFailed", str(exc))
            generation = int(body.get("metadata", {}).get("generation") or 0)
            status = await publish(body, PLURAL, status, new_status(status, [ready], generation, fields))
            await runtime.sleep(uid, delay, stopped)
    finally:
        runtime.forget(uid)


@kopf.on.event(GROUP, VERSION, PLURAL)
def set_event(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def set_deleted(*, namespace: str | None, uid: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete the children explicitly: the ownerReferences are also there for the garbage collector, but
    not every cluster runs one (the test world has no controller-manager)."""
    index: kopf.Index[tuple[str, str], Child] = kwargs["set_children_index"]
    for child in list(index.get((namespace or "", uid), ())):
        if not child["deleting"]:
            await asyncio.to_thread(kube.delete_custom_object, SERVERS, namespace or "", child["name"])
    runtime_of(memo).forget(uid)
