"""A ServerSnapshot's and a ServerSnapshotRestore's plan: the operator's own passes (`controllers.snapshot.sync`
and `controllers.restore.sync`: `gather` and `decide`, over read-only backends) give the first step; a restore's
planner (`reconcile.restore.plan`) is then asked again on the restore as that step would leave it, until it ends.
So a new restore reads as "revert, then power on", each as the operator would take it and in the words of the
Events it posts (`reconcile.narrate`).

What a step does is the step's own definition, not a choice: the restore's hold ends with the server's go-ahead
once it has no task in flight, and a revert leaves the VM in the power state the snapshot kept, where the
backend says which (vCenter does; SCVMM does not, and the plan says so).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from herder.api import DeletionPolicy, RestorePhase, ServerSnapshot, ServerSnapshotRestore
from herder.api.ecs import PowerState
from herder.controllers.restore import sync as restore_sync
from herder.controllers.shared.indexes import zone_and_reads
from herder.controllers.snapshot import sync as snapshot_sync
from herder.errors import HerderError
from herder.plan.context import Context, Outcome, told_step, unresolved
from herder.plan.model import Do, Step
from herder.providers.types import ObservedVM
from herder.reasons import Health
from herder.reconcile import restore, snapshot
from herder.reconcile.conditions import Condition
from herder.reconcile.narrate import restore_powered, reverted, snapshot_taken

# Enough for a restore's phases (hold, revert, power): a guard, not a limit.
MAX_STEPS = 8


def _stands(ready: Condition) -> list[Step]:
    """Why herder would go no further, from the Ready condition it would report: a wait (a task in flight, the
    server or snapshot not ready yet) or a block (lost, refused, failed)."""
    if ready.status:
        return []
    waits = ready.reason.health in {Health.PROGRESS, Health.WAITING} or ready.reason.awaits_dependency
    return [Step(Do.WAIT if waits else Do.BLOCKED, ready.message, reason=ready.reason.value)]


def plan_snapshot(ctx: Context, body: dict[str, Any]) -> Outcome:
    snap = ServerSnapshot.model_validate(body)
    try:
        inputs = snapshot_sync.gather(ctx.backends, snap, ctx.world.lookups)
    except HerderError as exc:
        return unresolved(exc)
    p = snapshot_sync.decide(inputs)
    if p.step is snapshot.Step.CREATE and inputs.server is not None and inputs.vm is not None:
        return Outcome(steps=[told_step(snapshot_taken(inputs.server.name, inputs.vm, memory=snap.spec.memory,
                                                   quiesce=snap.spec.quiesce))])
    return Outcome(steps=_stands(p.ready))


def snapshot_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    """What deleting the ServerSnapshot does to the backend snapshot (`controllers.snapshot.delete`)."""
    snap = ServerSnapshot.model_validate(body)
    recorded = snapshot_sync.recorded_of(snap)
    if snap.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return Outcome(notes=[f"snapshot {recorded.unique_id or '(none)'} is left on the backend (deletionPolicy "
                              "Orphan)"])
    if not recorded.unique_id:
        return Outcome(notes=["no snapshot was taken: nothing to remove on the backend"])
    return Outcome(steps=[Step(Do.REMOVE_SNAPSHOT, f"remove snapshot {recorded.unique_id} of server "
                               f"{snap.spec.server} (snapshots taken on top of it stay; it can no longer be "
                               "restored)", details={"server": snap.spec.server})])


def _vm_and_snapshot_power(ctx: Context, rs: restore_sync.Inputs) -> tuple[ObservedVM | None, PowerState | None]:
    """(the server's VM, the power state a revert to the snapshot brings back where the backend says), read."""
    server, view = rs.server, rs.snapshot
    if server is None or view is None:
        return None, None
    _, reads = zone_and_reads(ctx.backends, ctx.world.lookups, server.zone or "")
    vm = rs.vm or reads.vms.find(server.uid, server.ref)
    snap = ctx.world.get(("ServerSnapshot", rs.restore.metadata.namespace, view.name))
    uid = ((snap or {}).get("metadata") or {}).get("uid")
    found = reads.snapshots.find(vm, str(uid)) if vm is not None and uid else None
    return vm, found.power if found is not None else None


def plan_restore(ctx: Context, body: dict[str, Any]) -> Outcome:
    model = ServerSnapshotRestore.model_validate(body)
    if (model.status.phase or RestorePhase.PENDING).terminal:
        return Outcome()  # ended: nothing is planned after it
    try:
        inputs = restore_sync.gather(ctx.backends, model, ctx.world.lookups)
        p = restore_sync.decide(inputs)
        vm, after_revert = _vm_and_snapshot_power(ctx, inputs) if p.step is not restore.Step.WAIT else (None, None)
    except HerderError as exc:
        return unresolved(exc)
    uid, wanted = model.metadata.uid or "", model.spec.power_state
    recorded, server, view = inputs.recorded, inputs.server, inputs.snapshot
    power = vm.power if vm is not None else None
    outcome = Outcome()
    for _ in range(MAX_STEPS):
        if p.step is restore.Step.REVERT and server is not None and view is not None and vm is not None:
            outcome.steps.append(told_step(reverted(server.name, vm, view.name, view.unique_id or "")))
            recorded, power = restore.Recorded(RestorePhase.REVERTING), after_revert
        elif p.step is restore.Step.POWER and server is not None and p.power is not None:
            outcome.steps.append(told_step(restore_powered(server.name, power, p.power)))
            return outcome
        elif p.step is restore.Step.WAIT and p.phase is RestorePhase.HOLDING and server is not None \
                and not server.busy and recorded.pending_task is None:
            server = replace(server, restoring=uid)  # the server stands still and gives its go-ahead
            recorded = restore.Recorded(p.phase)
        elif p.step is restore.Step.NONE and p.phase is not recorded.phase and not p.phase.terminal:
            recorded = restore.Recorded(p.phase)  # a phase that moves on without a step of its own
        else:
            break
        if recorded.phase is RestorePhase.POWERING and power is None and wanted is not None and server is not None:
            # The backend does not say which power state the snapshot brings back: the step is taken if needed.
            outcome.steps.append(told_step(restore_powered(server.name, None, wanted)))
            outcome.notes.append(f"the backend does not say which power state this snapshot brings back: herder "
                                 f"powers the server {wanted.value.lower()} only if the revert leaves it otherwise")
            return outcome
        p = restore.plan(uid, recorded, None, snapshot=view, server=server, power=power, wanted=wanted)
    if not p.phase.terminal:
        outcome.steps += _stands(p.ready)
    return outcome


def restore_deletion(ctx: Context, body: dict[str, Any]) -> Outcome:
    """Deleting a restore changes nothing on the backend (`controllers.restore.delete`): a task in flight is let
    finish, and a server it holds is let go."""
    model = ServerSnapshotRestore.model_validate(body)
    phase = model.status.phase or RestorePhase.PENDING
    if phase.holds_server:
        return Outcome(notes=[f"server {model.status.server} is let go ({phase.value}); a task in flight is let "
                              "finish first; nothing else changes on the backend"])
    return Outcome(notes=["nothing changes on the backend"])
