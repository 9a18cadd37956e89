"""ElasticCloudServerSet: keep `replicas` ECS children (ownerReferences), spread across zones by the scheduler.

It creates missing children and deletes surplus ones (the highest ordinals, not-Ready
first), rolls template changes out (RollingUpdate: in place, or by replacing a child when the image changed,
at most maxUnavailable children not Ready at a time; OnDelete: new children only), and reports replicas,
readyReplicas, updatedReplicas and the selector for the scale subresource. A template without a zone gets
one per child from herder.reconcile.scheduling: fewest of this set's children first, so the set spreads
round-robin over the eligible zones, then most free memory. Each child carries the hash of the template it
was made from (herder.dev/template-hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION, kube
from herder.api import quantity_to_mib
from herder.api.common import LabelSelector
from herder.api.ecsset import ElasticCloudServerSet, UpdateStrategyType
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import Runtime, runtime_of
from herder.controllers.status import condition_in, new_status, publish
from herder.controllers.zone_choice import candidates, request_for
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import image_ref
from herder.reconcile.scheduling import choose_zone

PLURAL = "elasticcloudserversets"
SERVERS = "elasticcloudservers"
TEMPLATE_HASH = "herder.dev/template-hash"
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
    status, meta, spec = body.get("status") or {}, body.get("metadata", {}), body.get("spec", {})
    ready = (condition_in(status, READY) or {}).get("status") == "True"
    image = spec.get("image") or {}
    return {(namespace or "", owners[0]["uid"]): {
        "name": name, "ready": ready, "zone": spec.get("availabilityZone") or status.get("zone"),
        "deleting": bool(meta.get("deletionTimestamp")), "hash": (meta.get("annotations") or {}).get(TEMPLATE_HASH),
        "image": f"{image.get('kind')}/{image.get('name')}" if image else None,
        # The child has acted on its latest spec: a Ready from before a rolled-out change does not count.
        "settled": status.get("observedGeneration") == meta.get("generation"),
    }}


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
    zones = candidates(runtime, lookups, server_set.metadata.namespace or "", own_servers=own,
                       extra_pending_mib={zone: count * memory for zone, count in placed.items()})
    choice = choose_zone(request_for(spec, server_set.metadata.namespace or "", lookups, spread=True), zones)
    if choice.zone is None:
        raise kopf.TemporaryError(choice.message, delay=10)
    return choice.zone


def _child_spec(server_set: ElasticCloudServerSet, zone: str) -> dict[str, Any]:
    spec: dict[str, Any] = server_set.spec.template.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec | {"availabilityZone": zone}


def template_hash(server_set: ElasticCloudServerSet) -> str:
    """A fingerprint of what the template gives each child (its zone aside: each child keeps its own)."""
    template = server_set.spec.template
    wanted = {"metadata": template.metadata.model_dump(mode="json", by_alias=True, exclude_none=True),
              "spec": template.spec.model_dump(mode="json", by_alias=True, exclude_none=True,
                                               exclude={"availability_zone"})}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]


def _child(server_set: ElasticCloudServerSet, name: str, zone: str, current: str) -> dict[str, Any]:
    template = server_set.spec.template
    meta = server_set.metadata
    annotations = dict(template.metadata.annotations or {}) | {TEMPLATE_HASH: current}
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ElasticCloudServer",
        "metadata": {"name": name, "namespace": meta.namespace, "labels": dict(template.metadata.labels or {}),
                     "annotations": annotations,
                     "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ElasticCloudServerSet",
                                          "name": meta.name, "uid": meta.uid, "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": _child_spec(server_set, zone),
    }


def roll(server_set: ElasticCloudServerSet, live: list[Child], children: list[Child], current: str) -> None:
    """One step of a RollingUpdate: bring stale children (highest ordinal first) to the template, no more
    than `maxUnavailable` of the set's children not Ready at a time. A child on another image is replaced
    (deleted; `scale` makes a new one); any other change is applied in place (the ECS reconfigures its VM)."""
    strategy = server_set.spec.update_strategy
    if strategy.type is not UpdateStrategyType.ROLLING_UPDATE:
        return
    stale = sorted((c for c in live if c["hash"] != current), key=lambda c: -_ordinal(c["name"]))
    unavailable = sum(1 for c in children if c["deleting"] or not (c["ready"] and c["settled"]))
    wanted_image = image_ref(server_set.spec.template.spec)
    namespace, name = server_set.metadata.namespace or "", server_set.metadata.name
    for child in stale[:max(strategy.max_unavailable - unavailable, 0)]:
        if child["image"] != wanted_image:
            log.info("ECS set %s/%s: replacing %s (image %s -> %s)", namespace, name, child["name"], child["image"],
                     wanted_image)
            kube.delete_custom_object(SERVERS, namespace, child["name"])
            continue
        log.info("ECS set %s/%s: updating %s in place", namespace, name, child["name"])
        spec = _child_spec(server_set, str(child["zone"]))
        kube.patch_custom_object(SERVERS, namespace, child["name"], [{"op": "replace", "path": "/spec", "value": spec}],
                                 json_patch=True)
        # Recorded after the spec: a crash in between repeats the (idempotent) spec patch.
        template = server_set.spec.template.metadata
        kube.patch_custom_object(SERVERS, namespace, child["name"], {"metadata": {
            "labels": dict(template.labels or {}),
            "annotations": dict(template.annotations or {}) | {TEMPLATE_HASH: current}}})


def scale(runtime: Runtime, body: dict[str, Any], children: list[Child], lookups: Lookups) -> dict[str, Any]:
    """One step toward `replicas`: create the missing children or delete the surplus. Returns status fields."""
    server_set = ElasticCloudServerSet.model_validate(body)
    namespace, name = server_set.metadata.namespace or "", server_set.metadata.name or ""
    live = sorted((c for c in children if not c["deleting"]), key=lambda c: _ordinal(c["name"]))
    wanted = server_set.spec.replicas
    current = template_hash(server_set)
    if len(live) < wanted:
        taken = {_ordinal(c["name"]) for c in children}
        placed = list(live)
        made: Counter[str] = Counter()
        for _ in range(wanted - len(live)):
            ordinal = next(i for i in range(len(taken) + wanted + 1) if i not in taken)
            taken.add(ordinal)
            zone = _zone_for(runtime, server_set, placed, lookups, made)
            child_name = f"{name}-{ordinal}"
            kube.create_custom_object(SERVERS, namespace, _child(server_set, child_name, zone, current))
            placed.append({"name": child_name, "ready": False, "zone": zone, "deleting": False})
            made[zone] += 1
            log.info("ECS set %s/%s: created %s in zone %s", namespace, name, child_name, zone)
    elif len(live) > wanted:
        surplus = sorted(live, key=lambda c: (c["ready"], -_ordinal(c["name"])))  # not-Ready, then highest
        for child in surplus[: len(live) - wanted]:
            kube.delete_custom_object(SERVERS, namespace, child["name"])
    else:
        roll(server_set, live, children, current)
    return {"replicas": len(live), "readyReplicas": sum(1 for c in live if c["ready"]),
            "updatedReplicas": sum(1 for c in live if c["hash"] == current),
            "selector": selector_string(server_set.spec.selector)}


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
                scaled = fields["readyReplicas"] == replicas == fields["replicas"]
                ok = scaled and fields["updatedReplicas"] == replicas
                ready = Condition(READY, ok, "Ready" if ok else "Scaling" if not scaled else "Updating",
                                  f"{fields['readyReplicas']}/{replicas} servers ready, "
                                  f"{fields['updatedReplicas']} on the current template")
            except (kopf.TemporaryError, ApiException) as exc:
                fields, delay = {}, runtime.backoff.retry(uid)[0]
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
