"""Decisions for one ElasticCloudServerSet: its children as they are -> which to create, delete, update in
place or replace, and the status that says how far the set is. Pure: no I/O, no clock.

One step per pass: scale first (create the missing children, lowest free ordinals; or delete the surplus,
not-Ready first, then the highest ordinals), and only at the right count roll template changes out
(RollingUpdate, highest ordinal first, no more than `maxUnavailable` children not Ready at a time: a child
on another image or in another region is replaced, any other change is applied in place; OnDelete: nothing
rolls).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from herder.api.ecsset import ElasticCloudServerSet, UpdateStrategyType
from herder.api.selectors import LabelSelector
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.vm_spec import image_ref


@dataclass(frozen=True)
class Child:
    """What a set sees of one of its ECSs."""

    name: str
    uid: str = ""
    ready: bool = False
    zone: str | None = None
    deleting: bool = False
    template_hash: str | None = None  # herder.dev/template-hash: the template it was made from
    image: str | None = None  # `Kind/name`
    region: str | None = None  # spec.region
    settled: bool = True  # it has acted on its latest spec (a Ready from before a change does not count)

    @property
    def available(self) -> bool:
        return self.ready and self.settled and not self.deleting


@dataclass(frozen=True)
class QuotaRoom:
    """How many more servers of the template's size the namespace's ServerQuotas admit, and why not more."""

    count: int
    why: str


@dataclass(frozen=True)
class SetPlan:
    create: tuple[str, ...] = ()  # names of children to make, in order
    delete: tuple[str, ...] = ()  # surplus children
    replace: tuple[str, ...] = ()  # stale children on another image: deleted, made again by a later pass
    update: tuple[str, ...] = ()  # stale children brought to the template in place
    status: dict[str, object] = field(default_factory=dict)
    ready: Condition = field(default_factory=lambda: Condition(READY, False, Reason.SCALING))


def ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def template_hash(server_set: ElasticCloudServerSet) -> str:
    """A fingerprint of what the template gives each child (its zone aside: each child keeps its own)."""
    template = server_set.spec.template
    wanted = {"metadata": template.metadata.model_dump(mode="json", by_alias=True, exclude_none=True),
              "spec": template.spec.model_dump(mode="json", by_alias=True, exclude_none=True,
                                               exclude={"availability_zone"})}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]


def selector_string(selector: LabelSelector) -> str:
    """The label selector as `kubectl get -l` and the scale subresource write it."""
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or ():
        values = ",".join(req.values or ())
        parts.append({"In": f"{req.key} in ({values})", "NotIn": f"{req.key} notin ({values})",
                      "Exists": req.key, "DoesNotExist": f"!{req.key}"}[req.operator.value])
    return ",".join(parts)


def plan_set(server_set: ElasticCloudServerSet, children: list[Child], room: QuotaRoom | None = None) -> SetPlan:
    """`room`: what the namespace's quotas still admit (None: no limit). A set that cannot grow further stops
    at the limit and says why; it never deletes to make room."""
    name = server_set.metadata.name or ""
    wanted = server_set.spec.replicas
    current = template_hash(server_set)
    live = sorted((c for c in children if not c.deleting), key=lambda c: ordinal(c.name))
    create: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    blocked = None
    if len(live) < wanted:
        taken = {ordinal(c.name) for c in children}
        free = (i for i in range(len(taken) + wanted + 1) if i not in taken)
        missing = wanted - len(live)
        if room is not None and room.count < missing:
            missing, blocked = room.count, room.why
        create = tuple(f"{name}-{next(free)}" for _ in range(missing))
    elif len(live) > wanted:
        surplus = sorted(live, key=lambda c: (c.ready, -ordinal(c.name)))  # not-Ready first, then the highest
        delete = tuple(c.name for c in surplus[: len(live) - wanted])
    elif server_set.spec.update_strategy.type is UpdateStrategyType.ROLLING_UPDATE:
        stale = sorted((c for c in live if c.template_hash != current), key=lambda c: -ordinal(c.name))
        unavailable = sum(1 for c in children if not c.available)
        budget = max(server_set.spec.update_strategy.max_unavailable - unavailable, 0)
        template = server_set.spec.template.spec
        image, region = image_ref(template), template.region
        # A child is made again for another image or region: neither changes in place (spec.region is immutable).
        renewed = [c.name for c in stale[:budget] if c.image != image or c.region != region]
        replace = tuple(renewed)
        update = tuple(c.name for c in stale[:budget] if c.name not in renewed)
    ready_count = sum(1 for c in live if c.ready)
    updated = sum(1 for c in live if c.template_hash == current)
    scaled = ready_count == wanted == len(live)
    done = scaled and updated == wanted
    reason = Reason.READY if done else Reason.SCALING if not scaled else Reason.UPDATING
    message = f"{ready_count}/{wanted} servers ready, {updated} on the current template"
    if blocked is not None:
        reason = Reason.QUOTA_EXCEEDED
        message = f"{len(live) + len(create)} of {wanted} servers made, no more: {blocked}"
    ready = Condition(READY, done, reason, message)
    status: dict[str, object] = {"replicas": len(live), "readyReplicas": ready_count, "updatedReplicas": updated,
                                 "selector": selector_string(server_set.spec.selector)}
    return SetPlan(create, delete, replace, update, status, ready)
