"""An ElasticCloudServer's plan: the operator's own pass (`controllers.ecs.sync.gather` and `decide`, over
read-only backends) gives the first step; the same planner (`reconcile.ecs.plan`) is asked again on the VM as
that step would leave it, until it has nothing more to do. So a resize that needs a power cycle reads as
"power off, reconfigure, power on", each as the operator would take it.

Nothing here decides: it asks the planner, and `reconcile.narrate` puts its steps into the words the operator's
Events use. What a step does to the VM (`_after`) is the step's own definition (set the power, apply the
change, move), not a choice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from herder.api import ElasticCloudServer
from herder.controllers.ecs.sync import decide, gather, recorded_of
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, told_step, unresolved
from herder.plan.model import Do, Step
from herder.providers.types import NICSpec, ObservedDisk, ObservedNIC, ObservedVM
from herder.reasons import Health, Reason
from herder.reconcile.conditions import READY
from herder.reconcile.ecs import PAUSED, Desired, Fate, Plan, Recorded, fate, leaf, plan
from herder.reconcile.ecs import Step as Next
from herder.reconcile.narrate import disks, told
from herder.reconcile.vm_spec import image_ref
from herder.reconcile.zone import ZoneChoice

# Enough for any sequence the planner makes (move, power off, reconfigure, power on, ...): a guard, not a limit.
MAX_STEPS = 12


def _made(nic: NICSpec, key: str) -> ObservedNIC:
    """A NIC as a reconfigure leaves it: on its network and VLAN, with its MAC address if one is asked for."""
    return ObservedNIC(key, nic.network, nic.mac, nic.vlan)


def _after(vm: ObservedVM, p: Plan, uid: str, desired: Desired) -> ObservedVM | None:
    """The VM once step `p` has succeeded."""
    if p.step is Next.POWER and p.power is not None:
        return replace(vm, power=p.power)
    if p.step is Next.RELOCATE:
        move, pool = p.relocate, desired.pool
        return replace(vm, host=leaf(move.host) if move.host else vm.host,
                       datastore=leaf(move.storage) if move.storage else vm.datastore,
                       resource_pool=pool.name if move.pool and pool is not None else vm.resource_pool)
    if p.step is Next.ADOPT:
        return replace(vm, owner_uid=uid)
    if p.step is Next.RECONFIGURE:
        change = p.change
        grown = dict(change.grow_disks)
        disks = [replace(d, size_bytes=grown.get(d.key, d.size_bytes)) for d in vm.disks
                 if d.key not in change.remove_disks]
        disks += [ObservedDisk(f"new:{d.name}", d.size_bytes, name=d.name) for d in change.add_disks]
        moved = dict(change.change_nics)
        nics = [_made(moved[n.key], n.key) if n.key in moved else n for n in vm.nics if n.key not in change.remove_nics]
        nics += [_made(nic, f"new:{index}") for index, nic in enumerate(change.add_nics)]
        return replace(vm, cpu=change.cpu or vm.cpu, memory_mib=change.memory_mib or vm.memory_mib, disks=tuple(disks),
                       nics=tuple(nics))
    return None  # destroyed


def _stops(p: Plan) -> list[Step]:
    """Why herder would go no further, from the conditions of its last plan: a restore that holds the server
    still, or a change it will not make (paused, refused by a ServerQuota or the adoption rules, ...)."""
    found = []
    for cond in p.conditions:
        if cond.type == READY and cond.reason is Reason.RESTORING:
            found.append(Step(Do.WAIT, cond.message, reason=cond.reason.value))
        elif cond.type == PAUSED and cond.status:
            found.append(Step(Do.BLOCKED, cond.message, reason=cond.reason.value))
        elif (cond.type not in {READY, PAUSED} and not cond.status
              and cond.reason.health in {Health.STALLED, Health.WAITING}):
            found.append(Step(Do.BLOCKED, f"{cond.type}: {cond.message}", reason=cond.reason.value))
    return found


def plan_server(ctx: Context, body: dict[str, Any]) -> Outcome:
    choices: list[ZoneChoice] = []
    try:
        inputs = gather(ctx.backends, body, ctx.world.lookups, announce=lambda _, choice: choices.append(choice))
        decision = decide(inputs)
    except HerderError as exc:
        return unresolved(exc)
    zone = inputs.resolved.zone.metadata.name or ""
    pool = inputs.server.spec.resource_pool
    uid = inputs.server.metadata.uid or ""
    image = image_ref(inputs.server.spec)
    outcome = Outcome()
    recorded = inputs.recorded
    # The desired state as decided: with the ServerQuotas' refusal, which holds for every step after the first.
    p, vm, desired = decision.plan, decision.observed, decision.desired
    for _ in range(MAX_STEPS):
        if p.step is Next.NONE:
            break
        if p.step is Next.WAIT:
            pending = recorded.pending_task
            outcome.steps.append(Step(Do.WAIT, f"a {pending.operation if pending else ''} task is in flight; "
                                      "herder follows it to its end before it plans again", reason=Reason.TASK_RUNNING))
            return outcome
        outcome.steps.append(told_step(told(p, vm, desired, zone=zone, pool=pool, image=image,
                                       choice=choices[-1].message if choices else None)))
        if p.step is Next.CREATE:
            return outcome
        vm = _after(vm, p, uid, desired) if vm is not None else None
        recorded = Recorded() if p.forget_identity or vm is None else replace(recorded, pending_task=None)
        p = plan(desired, vm, recorded)
    outcome.steps += _stops(p)
    return outcome


def server_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    """What deleting the ECS does to its VM, under its deletionPolicy (`reconcile.ecs.fate`)."""
    server = ElasticCloudServer.model_validate(body)
    policy = server.spec.deletion_policy
    zone_name = server.status.zone or server.spec.availability_zone
    zone_body = ctx.world.lookups.zone(zone_name) if zone_name else None
    recorded = recorded_of(server)
    vm = None
    if zone_body is not None and (recorded.unique_id or recorded.pending_task):
        provider = (zone_body.get("spec") or {}).get("provider") or {}
        try:
            reads = ctx.backends.reads(str(provider.get("kind")), str(provider.get("name")))
            vm = reads.vms.find(server.metadata.uid or "", server.status.managed_object_id)
        except HerderError as exc:
            return unresolved(exc)
    what = fate(policy, zone_exists=zone_body is not None, recorded=recorded, vm=vm)
    if what is Fate.DESTROY and vm is not None:
        return Outcome(steps=[Step(Do.DESTROY, f"power off (hard) and delete VM {vm.name} ({vm.unique_id}) with its "
                                   f"disks ({disks(vm)}), deletionPolicy Delete: their data is lost", data_loss=True,
                                   details={"vm": vm.name, "deletionPolicy": policy.value})])
    if what is Fate.ORPHAN and vm is not None:
        return Outcome(steps=[Step(Do.ORPHAN, f"leave VM {vm.name} ({vm.unique_id}) as it is, without herder's "
                                   "marks (deletionPolicy Orphan)", details={"vm": vm.name,
                                                                             "deletionPolicy": policy.value})])
    note = {Fate.NEVER_CREATED: "no VM was ever made: nothing to delete on the backend",
            Fate.UNREACHABLE: f"its zone {zone_name} is gone: VM {server.status.unique_id} cannot be reached and "
                              "is left as it is",
            Fate.GONE: "no VM left on the backend"}.get(what, "")
    return Outcome(notes=[note] if note else [])
