"""An ElasticCloudServerSet's plan: its planner (`reconcile.ecsset.plan_set`) asked pass after pass, each pass
on the children as the one before would leave them, with the zone of each new child from the operator's own
scheduling (`controllers.ecsset.sync.zone_for`). A child brought to the template in place gets its own plan,
through the ECS planner, as the set's controller would patch it."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from herder.api.ecsset import ElasticCloudServerSet
from herder.controllers.ecsset.sync import child_spec, room, zone_for
from herder.controllers.shared.ledger import Ledger
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, unresolved
from herder.plan.diff import changes, flatten
from herder.plan.model import Action, Do, ObjectPlan, Step
from herder.plan.servers import plan_server, server_deletion
from herder.reasons import Reason
from herder.reconcile.ecsset import Child, plan_set, template_hash
from herder.reconcile.vm_spec import image_ref


def _removal(ctx: Context, namespace: str, name: str) -> tuple[str, bool]:
    """(what deleting child `name` does to its VM, whether data is lost)."""
    body = ctx.world.get(("ElasticCloudServer", namespace, name))
    if body is None:
        return "", False
    fate = server_deletion(ctx, body)
    words = "; ".join([s.summary for s in fate.steps] + fate.notes + [p.message for p in fate.problems])
    return words, any(s.data_loss for s in fate.steps)


def _updated(ctx: Context, server_set: ElasticCloudServerSet, child: Child, label: str) -> ObjectPlan | None:
    """The child as the set's controller patches it (spec from the template, in its zone), planned."""
    namespace = server_set.metadata.namespace or ""
    live = ctx.world.get(("ElasticCloudServer", namespace, child.name))
    if live is None:
        return None
    body = copy.deepcopy(live)
    body["spec"] = child_spec(server_set, str(child.zone))
    body["metadata"]["generation"] = int(body["metadata"].get("generation") or 0) + 1
    outcome = plan_server(ctx, body)
    return ObjectPlan(str(live.get("apiVersion")), "ElasticCloudServer", child.name, namespace, Action.CHANGE,
                      source=label, spec_changes=changes(flatten(live.get("spec"), "spec"),
                                                         flatten(body["spec"], "spec")),
                      steps=outcome.steps, problems=outcome.problems, notes=outcome.notes)


def plan_server_set(ctx: Context, body: dict[str, Any]) -> tuple[Outcome, list[ObjectPlan]]:
    server_set = ElasticCloudServerSet.model_validate(body)
    namespace, uid = server_set.metadata.namespace or "", server_set.metadata.uid or ""
    label = f"ElasticCloudServerSet {namespace}/{server_set.metadata.name}"
    children = ctx.world.children(namespace, uid) if uid else []
    current, image = template_hash(server_set), image_ref(server_set.spec.template.spec)
    outcome, updated = Outcome(), list[ObjectPlan]()
    for _ in range(4 * server_set.spec.replicas + 4):  # a guard: each pass makes progress
        # A fresh ledger: what the namespace's objects take by their stored status, as the operator counts them.
        step = plan_set(server_set, children, room(Ledger(), server_set, children, ctx.world.lookups))
        if not (step.create or step.delete or step.replace or step.update):
            if step.ready.reason is Reason.QUOTA_EXCEEDED:
                outcome.steps.append(Step(Do.BLOCKED, step.ready.message, reason=step.ready.reason.value))
            break
        made: Counter[str] = Counter()
        for name in step.create:
            try:
                zone = zone_for(ctx.backends, server_set, children, ctx.world.lookups, made)
            except HerderError as exc:
                failed = unresolved(exc)
                return Outcome(outcome.steps + failed.steps, failed.problems), updated
            made[zone] += 1
            outcome.steps.append(Step(Do.CREATE_SERVER, f"create ECS {namespace}/{name} in zone {zone} from the "
                                      "template", details={"server": name, "zone": zone}))
            children.append(Child(name, ready=True, zone=zone, template_hash=current, image=image))
        for name in step.delete:
            fate, lost = _removal(ctx, namespace, name)
            outcome.steps.append(Step(Do.DELETE_SERVER, f"delete ECS {namespace}/{name}" + (f": {fate}" if fate
                                      else ""), data_loss=lost, details={"server": name}))
            children = [c for c in children if c.name != name]
        for name in step.replace:
            fate, lost = _removal(ctx, namespace, name)
            outcome.steps.append(Step(Do.REPLACE_SERVER, f"replace ECS {namespace}/{name}: it is deleted"
                                      + (f" ({fate})" if fate else "") + f" and made again from {image}",
                                      data_loss=lost, details={"server": name}))
            children = [replace(c, template_hash=current, image=image) if c.name == name else c for c in children]
        for name in step.update:
            child = next(c for c in children if c.name == name)
            plan = _updated(ctx, server_set, child, label)
            outcome.steps.append(Step(Do.UPDATE_SERVER, f"bring ECS {namespace}/{name} to the template in place "
                                      "(its own plan is listed with it)", details={"server": name}))
            if plan is not None:
                updated.append(plan)
            children = [replace(c, template_hash=current, ready=True) if c.name == name else c for c in children]
    return outcome, updated


def set_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    """A deleted set takes its children with it."""
    server_set = ElasticCloudServerSet.model_validate(body)
    namespace, uid = server_set.metadata.namespace or "", server_set.metadata.uid or ""
    outcome = Outcome()
    for child in ctx.world.children(namespace, uid):
        fate, lost = _removal(ctx, namespace, child.name)
        outcome.steps.append(Step(Do.DELETE_SERVER, f"delete ECS {namespace}/{child.name}" + (f": {fate}" if fate
                                  else ""), data_loss=lost, details={"server": child.name}))
    return outcome
