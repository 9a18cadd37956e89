"""One pass over an ElasticCloudServerSet: carry out its planner's step (herder.reconcile.ecsset) with the
Kubernetes API. A template without a zone gets one per new child from the scheduler: fewest of this set's
children first, so the set spreads round-robin over the eligible zones, then most free memory."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION, kube
from herder.api.ecsset import ElasticCloudServerSet
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.ledger import Ledger
from herder.controllers.shared.runtime import Backends, Runtime
from herder.controllers.shared.status import condition_in, new_status
from herder.controllers.zone.choice import candidates, request_for
from herder.errors import HerderError, Unresolvable
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.ecsset import Child, QuotaRoom, plan_set, template_hash
from herder.reconcile.quota import requested
from herder.reconcile.zone import choose_zone

SERVERS = "elasticcloudservers"
KIND = "ElasticCloudServerSet"
TEMPLATE_HASH = "herder.dev/template-hash"
log = logging.getLogger(__name__)


def child_of(name: str, body: Mapping[str, Any]) -> tuple[str, Child] | None:
    """(the set's UID, what it sees of the ECS) for an ECS a set owns; None for any other ECS."""
    meta = body.get("metadata") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == KIND]
    if not owners:
        return None
    status, spec = body.get("status") or {}, body.get("spec") or {}
    image = spec.get("image") or {}
    return str(owners[0]["uid"]), Child(
        name=name, uid=str(meta.get("uid") or ""), ready=(condition_in(status, READY) or {}).get("status") == "True",
        zone=spec.get("availabilityZone") or status.get("zone"), deleting=bool(meta.get("deletionTimestamp")),
        template_hash=(meta.get("annotations") or {}).get(TEMPLATE_HASH),
        image=f"{image.get('kind')}/{image.get('name')}" if image else None, region=spec.get("region"),
        settled=status.get("observedGeneration") == meta.get("generation"))


def zone_for(backends: Backends, server_set: ElasticCloudServerSet, children: list[Child], lookups: Lookups,
             placed: Mapping[str, int]) -> str:
    """The scheduler's zone for the next child. `placed`: children made in this pass, per zone."""
    spec = server_set.spec.template.spec
    if spec.availability_zone:
        return spec.availability_zone
    own = Counter(c.zone for c in children if c.zone and not c.deleting) + Counter(placed)
    memory = spec.memory.mib
    zones = candidates(backends, lookups, server_set.metadata.namespace or "", own_servers=own,
                       extra_pending_mib={zone: count * memory for zone, count in placed.items()})
    choice = choose_zone(request_for(spec, server_set.metadata.namespace or "", lookups, spread=True), zones)
    if choice.zone is None:
        raise Unresolvable(choice.reason, choice.message)
    return choice.zone


def child_spec(server_set: ElasticCloudServerSet, zone: str) -> dict[str, Any]:
    """A child's spec: the template's, in its own zone."""
    spec: dict[str, Any] = server_set.spec.template.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec | {"availabilityZone": zone}


def _child(server_set: ElasticCloudServerSet, name: str, zone: str, current: str) -> dict[str, Any]:
    template = server_set.spec.template
    meta = server_set.metadata
    annotations = dict(template.metadata.annotations or {}) | {TEMPLATE_HASH: current}
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ElasticCloudServer",
        "metadata": {"name": name, "namespace": meta.namespace, "labels": dict(template.metadata.labels or {}),
                     "annotations": annotations,
                     "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
                                          "name": meta.name, "uid": meta.uid, "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": child_spec(server_set, zone),
    }


def _update_in_place(server_set: ElasticCloudServerSet, child: Child, current: str) -> None:
    namespace = server_set.metadata.namespace or ""
    spec = child_spec(server_set, str(child.zone))
    kube.patch_custom_object(SERVERS, namespace, child.name, [{"op": "replace", "path": "/spec", "value": spec}],
                             json_patch=True)
    # Recorded after the spec: a crash in between repeats the (idempotent) spec patch.
    template = server_set.spec.template.metadata
    kube.patch_custom_object(SERVERS, namespace, child.name, {"metadata": {
        "labels": dict(template.labels or {}),
        "annotations": dict(template.annotations or {}) | {TEMPLATE_HASH: current}}})


def room(ledger: Ledger, server_set: ElasticCloudServerSet, children: list[Child],
         lookups: Lookups) -> QuotaRoom | None:
    """How many more children the namespace's ServerQuotas admit (children made but not admitted yet count as
    taking their share already); None when nothing limits them, or the set has all it wants. `ledger`: the
    operator's (with its grants), or a fresh one for herder plan (stored status alone)."""
    namespace = server_set.metadata.namespace or ""
    quotas = lookups.namespace_quotas(namespace)
    if not quotas or len([c for c in children if not c.deleting]) >= server_set.spec.replicas:
        return None
    spec = server_set.spec.template.spec
    each = requested(spec.to_k8s(), lookups.image_size(namespace, spec.image))
    members = [c.uid for c in children if not c.deleting]
    fits, why = ledger.room(namespace, each, members, quotas, lookups.namespace_usage(namespace))
    return QuotaRoom(fits, why or "") if fits is not None else None


def sync_set(runtime: Runtime, body: dict[str, Any], children: list[Child], lookups: Lookups) -> Pass:
    server_set = ElasticCloudServerSet.model_validate(body)
    namespace, name = server_set.metadata.namespace or "", server_set.metadata.name or ""
    plan = plan_set(server_set, children, room(runtime.ledger, server_set, children, lookups))
    current = template_hash(server_set)
    by_name = {c.name: c for c in children}
    try:
        made: Counter[str] = Counter()
        for child_name in plan.create:
            zone = zone_for(runtime, server_set, children, lookups, made)
            kube.create_custom_object(SERVERS, namespace, _child(server_set, child_name, zone, current))
            made[zone] += 1
            log.info("ECS set %s/%s: created %s in zone %s", namespace, name, child_name, zone)
        for child_name in plan.delete + plan.replace:
            if child_name in plan.replace:
                log.info("ECS set %s/%s: replacing %s (image %s)", namespace, name, child_name,
                         by_name[child_name].image)
            kube.delete_custom_object(SERVERS, namespace, child_name)
        for child_name in plan.update:
            log.info("ECS set %s/%s: updating %s in place", namespace, name, child_name)
            _update_in_place(server_set, by_name[child_name], current)
    except ApiException as exc:
        raise HerderError(f"Kubernetes refused a change to a server of the set: {kube.refusal(exc)}",
                          reason=Reason.SCALE_FAILED) from None
    generation = server_set.metadata.generation or 0
    # Stopped at a quota's limit: woken when room frees up or a quota changes, and looks again on the backoff.
    blocked = plan.ready.reason is Reason.QUOTA_EXCEEDED
    runtime.ledger.wait(namespace, server_set.metadata.uid or "", blocked)
    delay = runtime.backoff.retry(server_set.metadata.uid or "")[0] if blocked else None
    if not blocked:
        runtime.backoff.succeeded(server_set.metadata.uid or "")
    return Pass(new_status(body.get("status") or {}, [plan.ready], generation, dict(plan.status)), delay)


def set_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    uid = (body.get("metadata") or {}).get("uid", "")
    delay = runtime.backoff.retry(uid)[0]
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    failure = Condition(READY, False, exc.reason, str(exc))
    return Pass(new_status(body.get("status") or {}, [failure], generation, {}), delay, failed=True)
