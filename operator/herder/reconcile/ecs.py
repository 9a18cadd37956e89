"""Decisions for one ElasticCloudServer: desired spec + observed VM + recorded status -> the next step.

Pure: no I/O, no clock. The controller executes at most one backend step per pass and follows its task
to the end before planning again, so a step is never started twice.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from herder.api import DeletionPolicy, format_mib
from herder.api.ecs import PowerState
from herder.providers import limits
from herder.providers.types import (
    DataDisk,
    ObservedVM,
    Operation,
    Relocation,
    TaskRef,
    TaskResult,
    TaskStatus,
    VMChange,
    VMSpec,
    ZoneMembers,
)
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold
from herder.reconcile.conditions import READY, Condition, summary
from herder.reconcile.nics import hot_part, needs_stop, nic_change

PROVISIONED = "Provisioned"
CONFIG_SYNCED = "ConfigSynced"
POWER_SYNCED = "PowerSynced"
PAUSED = "Paused"
PLACEMENT_SYNCED = "PlacementSynced"  # on ECSs that pin a host or storage or name a pool, and while one moves
_CREATING = Condition(PROVISIONED, False, Reason.CREATING, "creating the VM")


class Step(enum.StrEnum):
    NONE = "None"
    WAIT = "Wait"  # a task is in flight: follow it
    CREATE = "Create"
    ADOPT = "Adopt"
    RECONFIGURE = "Reconfigure"
    POWER = "Power"
    DESTROY_FAILED_CREATE = "DestroyFailedCreate"  # compensation
    DESTROY_FOR_RECREATE = "DestroyForRecreate"  # herder.dev/recreate after an image change
    RELOCATE = "Relocate"  # live, to spec.placement's host / storage and into spec.resourcePool's pool


@dataclass(frozen=True)
class PoolTarget:
    """The backend pool a VM belongs in: vCenter resource pool or VMM cloud, by name (None: no cloud)."""

    name: str | None
    named: bool = False  # spec.resourcePool names it (else: the zone's own)


@dataclass(frozen=True)
class Desired:
    spec: VMSpec
    paused: bool = False
    recreate_requested: bool = False
    adopt_unique_id: str | None = None
    power_cycle_allowed: bool = False
    image_changed: bool = False  # the image differs from the one the VM was made from
    # spec.placement, as the user pinned it (names or inventory paths; SCVMM: host names, a storage path);
    # None: wherever the zone put it.
    pinned_host: str | None = None
    pinned_datastore: str | None = None
    pool: PoolTarget | None = None  # None: wherever it is
    # A step that failed for this generation and whose backoff has not run out (CreateFailed, PowerFailed,
    # ReconfigureFailed, MigrationFailed): the step is not repeated yet and the failure stays reported.
    held: Condition | None = None
    # An image capture needs the VM stopped (herder.dev/stopped-for-capture): stop it, change nothing else.
    capture_hold: CaptureHold | None = None
    # Why the VM spec.adoptFrom names may not be adopted (herder.reconcile.adoption); it is then not observed.
    adoption_refused: str | None = None
    # Why the namespace's ServerQuotas do not admit what the spec asks (herder.reconcile.quota): no create, no
    # adoption, no growth; everything else goes on.
    quota_refused: str | None = None
    # Why spec.placement's host or storage is not the zone's (`pins_outside`): no create, no move there.
    placement_refused: str | None = None
    # Why the VM cannot be made as the spec asks (herder.reconcile.guest.refusal): guest settings or NICs its
    # backend or image cannot take. A first-boot matter: it stops a create only.
    create_refused: str | None = None
    # Why the static IP pools cannot address the NICs of a VM not made yet (herder.reconcile.nics.address_refusal).
    address_refused: str | None = None
    # A ServerSnapshotRestore reverts the VM, (its UID, its name): make no backend change until it ends.
    restoring: tuple[str, str] | None = None


@dataclass(frozen=True)
class Recorded:
    """What status already says: the identity of our VM and any task in flight."""

    unique_id: str | None = None
    ref: str | None = None
    pending_task: TaskRef | None = None


@dataclass(frozen=True)
class Plan:
    step: Step
    conditions: tuple[Condition, ...]
    change: VMChange = field(default_factory=VMChange)
    power: PowerState | None = None
    graceful: bool = False  # a power-off through the guest OS instead of pulling the power
    forget_task: bool = False  # the recorded task has ended: clear it from status
    forget_identity: bool = False  # the user asked to re-create a vanished VM
    relocate: Relocation = field(default_factory=Relocation)  # where to move to


# The step each failure that is retried on a backoff came from.
RETRIED_FAILURES = {Reason.CREATE_FAILED: Step.CREATE, Reason.POWER_FAILED: Step.POWER,
                    Reason.RECONFIGURE_FAILED: Step.RECONFIGURE, Reason.MIGRATION_FAILED: Step.RELOCATE}


# Refusals that something outside the spec may lift (the VM appears, its owner lets it go).
_LOOKED_AT_AGAIN = frozenset({Reason.ADOPT_TARGET_NOT_FOUND, Reason.ADOPTION_REFUSED, Reason.QUOTA_EXCEEDED,
                              Reason.ADDRESS_UNAVAILABLE})


def _holds(desired: Desired, step: Step) -> bool:
    return desired.held is not None and RETRIED_FAILURES.get(desired.held.reason) is step


def retries(p: Plan) -> bool:
    """A failed step, a missing adoption target, or a refusal (adoption, quota): looked at again when the backoff
    runs out (nothing else may wake the server: vCenter may refuse a power-on for capacity that frees up later,
    another tenant may let a VM go)."""
    return any(RETRIED_FAILURES.get(c.reason) is not None or c.reason in _LOOKED_AT_AGAIN for c in p.conditions)


def phase(p: Plan, observed: ObservedVM | None, pending: TaskRef | None) -> str:
    """status.phase: a one-word summary for `kubectl get`."""
    provisioned = next((c.reason for c in p.conditions if c.type == PROVISIONED), None)
    if provisioned is Reason.VM_MISSING:
        return "Lost"
    if provisioned is Reason.CREATE_FAILED:
        return "Failed"
    if observed is None:
        return "Provisioning" if pending else "Pending"
    return {PowerState.ON: "Running", PowerState.OFF: "Stopped", PowerState.SUSPENDED: "Suspended"}[observed.power]


def plan(desired: Desired, observed: ObservedVM | None, recorded: Recorded,
         task: TaskResult | None = None) -> Plan:
    chosen = _plan(desired, observed, recorded, task)
    held = desired.held
    if held is None or not _holds(desired, chosen.step):
        return chosen
    # Not yet: report the failure in place of the condition the step would have fixed.
    kept = tuple(held if c.type == held.type else c for c in chosen.conditions if c.type != READY)
    return _finish(Step.NONE, kept, forget_task=chosen.forget_task, forget_identity=chosen.forget_identity)


def _plan(desired: Desired, observed: ObservedVM | None, recorded: Recorded, task: TaskResult | None) -> Plan:
    if recorded.pending_task is not None and task is not None:
        followed = _follow_task(recorded.pending_task, task, observed)
        if followed is not None:
            return followed
    forget_task = recorded.pending_task is not None
    if desired.restoring is not None:
        # The restore reverts the VM and may power it; once it ends, the spec applies again (ConfigSynced).
        what = f"ServerSnapshotRestore {desired.restoring[1]} is reverting this server: no change until it ends"
        return Plan(Step.NONE, (Condition(READY, False, Reason.RESTORING, what),), forget_task=forget_task)
    paused = Condition(PAUSED, desired.paused, Reason.PAUSED if desired.paused else Reason.ACTIVE,
                       "herder.dev/paused is set: herder makes no backend changes" if desired.paused else "")
    if observed is None:
        return _plan_missing(desired, recorded, paused, forget_task)
    return _plan_existing(desired, observed, paused, forget_task)


def _follow_task(task_ref: TaskRef, task: TaskResult, observed: ObservedVM | None) -> Plan | None:
    if task_ref.operation is Operation.COMPENSATE:
        # Removing what a failed create left. Forget its identity throughout: once it is gone the ECS must
        # be created again (after the CreateFailed backoff), not reported as VMMissing.
        removed = task.status is not TaskStatus.RUNNING and observed is None
        step = Step.NONE if removed else Step.WAIT if task.status is TaskStatus.RUNNING \
            else Step.DESTROY_FAILED_CREATE
        message = "the create failed; " + ("the half-made VM is removed, retrying" if removed
                                           else "removing the half-made VM")
        return _finish(step, (Condition(PROVISIONED, False, Reason.CREATE_FAILED, message),),
                       forget_task=step is not Step.WAIT, forget_identity=True)
    if task.status is TaskStatus.RUNNING:
        # The same condition as when the step started: following a task writes nothing until it ends.
        if task_ref.operation is Operation.CREATE:
            return _finish(Step.WAIT, (_CREATING,))
        # Not Ready while the task runs: Ready from this Provisioned alone would be True while the condition
        # the task is fixing (PowerSynced, ConfigSynced) is still False.
        waiting = f"waiting for {task_ref.operation} task"
        return Plan(Step.WAIT, (Condition(PROVISIONED, observed is not None, Reason.TASK_RUNNING, waiting),
                                Condition(READY, False, Reason.TASK_RUNNING, waiting)))
    if task.status is TaskStatus.FAILED:
        message = f"{task_ref.operation} task {task_ref.id} failed: {task.error or 'no reason given'}"
        return _failed(task_ref.operation, message, observed)
    return None  # succeeded or no longer known: plan from what the backend shows now


def refused(operation: Operation, error: str, observed: ObservedVM | None) -> Plan:
    """A step the backend refused when asked (no task ever ran): failed like a task that failed, so it is
    reported with the backend's words and retried when its backoff runs out."""
    return _failed(operation, f"{operation} refused: {error}", observed)


def _failed(operation: Operation, message: str, observed: ObservedVM | None) -> Plan:
    if operation is Operation.CREATE:
        # A half-made VM never stays behind: destroy it, then report.
        step = Step.DESTROY_FAILED_CREATE if observed is not None else Step.NONE
        return _finish(step, (Condition(PROVISIONED, False, Reason.CREATE_FAILED, message),), forget_task=True,
                       forget_identity=True)
    if operation is Operation.RELOCATE:
        return _finish(Step.NONE, (Condition(PLACEMENT_SYNCED, False, Reason.MIGRATION_FAILED, message),),
                       forget_task=True)
    power = operation.changes_power
    reason = Reason.POWER_FAILED if power else Reason.RECONFIGURE_FAILED
    kind = POWER_SYNCED if power else CONFIG_SYNCED
    return _finish(Step.NONE, (Condition(kind, False, reason, message),), forget_task=True)


def _plan_missing(desired: Desired, recorded: Recorded, paused: Condition, forget_task: bool) -> Plan:
    if recorded.unique_id and not desired.recreate_requested:
        missing = Condition(PROVISIONED, False, Reason.VM_MISSING,
                            f"the VM {recorded.unique_id} is gone from the backend; herder will not re-create it "
                            "on its own. Set the annotation herder.dev/recreate=true to create a new one.")
        return _finish(Step.NONE, (missing, paused), forget_task=forget_task)
    if desired.paused:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.PAUSED, "not created while paused"), paused),
                       forget_task=forget_task)
    if desired.adoption_refused:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.ADOPTION_REFUSED, desired.adoption_refused),
                                   paused), forget_task=forget_task)
    if desired.adopt_unique_id:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.ADOPT_TARGET_NOT_FOUND,
                                             f"no VM with ID {desired.adopt_unique_id} to adopt"), paused),
                       forget_task=forget_task)
    if desired.create_refused:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.NOT_SUPPORTED, desired.create_refused + "; "
                                             "nothing was made"), paused), forget_task=forget_task)
    if desired.address_refused:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.ADDRESS_UNAVAILABLE, desired.address_refused
                                             + "; nothing was made"), paused), forget_task=forget_task)
    if desired.quota_refused:
        return _finish(Step.NONE, (_over_quota(desired), paused), forget_task=forget_task,
                       forget_identity=bool(recorded.unique_id))
    if desired.placement_refused:
        return _finish(Step.NONE, (Condition(PROVISIONED, False, Reason.PLACEMENT_NOT_IN_ZONE,
                                             f"{desired.placement_refused}; nothing was created"), paused),
                       forget_task=forget_task, forget_identity=bool(recorded.unique_id))
    return _finish(Step.CREATE, (_CREATING, paused), forget_task=forget_task,
                   forget_identity=bool(recorded.unique_id))


def _over_quota(desired: Desired, kind: str = PROVISIONED) -> Condition:
    return Condition(kind, False, Reason.QUOTA_EXCEEDED, f"{desired.quota_refused}; nothing was changed on the "
                     "backend. Delete servers or lower the spec, or ask for a larger ServerQuota")


def _plan_existing(desired: Desired, observed: ObservedVM, paused: Condition, forget_task: bool) -> Plan:
    spec = desired.spec
    provisioned = Condition(PROVISIONED, True, Reason.PROVISIONED, f"VM {observed.name} ({observed.unique_id})")
    if desired.adopt_unique_id and spec.uid not in {observed.owner_uid, observed.unique_id}:
        if desired.quota_refused:
            return _finish(Step.NONE, (_over_quota(desired), paused), forget_task=forget_task)
        if desired.paused:
            return _finish(Step.NONE, (provisioned, paused), forget_task=forget_task)
        return _finish(Step.ADOPT, (provisioned, paused), forget_task=forget_task)

    if desired.image_changed and desired.recreate_requested and not desired.paused and desired.capture_hold is None:
        # Asked for: replace the VM with one from the new image. Destroy now; the next pass creates.
        replacing = Condition(PROVISIONED, False, Reason.RECREATING,
                              "destroying the VM to create it from the new image")
        return _finish(Step.DESTROY_FOR_RECREATE, (replacing, paused), forget_task=forget_task)
    change, shrink_note, refused = _config_change(spec, observed)
    if desired.quota_refused:
        change = VMChange()  # no resize at all: the quota does not admit what the spec asks
    needs_cycle = _needs_power_cycle(change, observed)
    config = _config_condition(desired, change, needs_cycle, shrink_note, refused)
    power_ok = observed.power == spec.power
    power = Condition(POWER_SYNCED, power_ok, Reason.POWER_SYNCED if power_ok else Reason.POWER_PENDING,
                      f"power is {observed.power}" + ("" if power_ok else f", want {spec.power}"))
    move, placed = _placement(desired, observed)
    hold = desired.capture_hold
    if hold is not None:
        stopped = observed.power is PowerState.OFF
        power = Condition(POWER_SYNCED, False, Reason.STOPPED_FOR_CAPTURE,
                          f"{hold.by} is capturing this server: " + ("it stays off until the capture ends, then "
                          f"power returns to {spec.power}" if stopped else "stopping it first"))
    conditions = (provisioned, config, power, paused) + ((placed,) if placed is not None else ())
    if desired.paused or observed.busy:
        return _finish(Step.NONE, conditions, forget_task=forget_task)
    if hold is not None:
        # A consistent capture: the VM is stopped as the image's powerPolicy says, and nothing else changes
        # until the template is made (a move or resize would race the clone).
        if observed.power is PowerState.OFF:
            return _finish(Step.NONE, conditions, forget_task=forget_task)
        return _finish(Step.POWER, conditions, power=PowerState.OFF, graceful=hold.graceful and
                       observed.power is PowerState.ON, forget_task=forget_task)
    if not move.is_empty() and not _holds(desired, Step.RELOCATE):
        # Live, before any other change: a migration keeps the VM running, whatever its power state.
        return _finish(Step.RELOCATE, conditions, relocate=move, forget_task=forget_task)

    if not change.is_empty():
        if not needs_cycle or observed.power is PowerState.OFF:
            return _finish(Step.RECONFIGURE, conditions, change=change, forget_task=forget_task)
        if desired.power_cycle_allowed:
            return _finish(Step.POWER, conditions, power=PowerState.OFF, forget_task=forget_task)
        nics = hot_part(change, observed)
        hot = VMChange(grow_disks=change.grow_disks, add_disks=change.add_disks,
                       remove_disks=change.remove_disks, add_nics=nics.add_nics, change_nics=nics.change_nics,
                       remove_nics=nics.remove_nics)
        if not hot.is_empty():
            return _finish(Step.RECONFIGURE, conditions, change=hot, forget_task=forget_task)
    if not power_ok:
        # Suspending needs a running VM; everything else is one transition.
        target = PowerState.ON if spec.power is PowerState.SUSPENDED and observed.power is PowerState.OFF \
            else spec.power
        return _finish(Step.POWER, conditions, power=target, forget_task=forget_task)
    return _finish(Step.NONE, conditions, forget_task=forget_task)


def leaf(name: str) -> str:
    """Status shows host and datastore names; the spec may use inventory paths (and SCVMM storage paths may end
    in a backslash)."""
    return name.rstrip("/\\").rsplit("/", 1)[-1]


def matches(pinned: str, observed: str | None) -> bool:
    """A pinned name is where the VM is: by leaf name, case-insensitively (Windows paths and host names), and a
    host's short name stands for its FQDN."""
    want, have = leaf(pinned).lower(), (observed or "").rstrip("\\").lower()
    return want == have or have.startswith(want + ".")


def _under(path: str, root: str) -> bool:
    """A Windows path is `root` or below it (case-insensitively)."""
    want, base = path.rstrip("\\").lower(), root.rstrip("\\").lower()
    return want == base or want.startswith(base + "\\")


def pins_outside(zone: str, host: str | None, storage: str | None, members: ZoneMembers, *,
                 paths: bool) -> str | None:
    """Why a pinned host or storage is not one of zone `zone`'s `members`; None when both are (or none is pinned).
    `paths`: storage is a path on the hosts (SCVMM), else a datastore name or inventory path (vCenter)."""
    if host and not any(matches(host, name) for name in members.hosts):
        return f"spec.placement.host {host} is not a host of zone {zone} ({', '.join(members.hosts) or 'none'})"
    if storage and paths and not any(_under(storage, root) for root in members.storage):
        return (f"spec.placement.storagePath {storage} is not under a path of zone {zone} "
                f"({', '.join(members.storage) or 'none'})")
    if storage and not paths and leaf(storage) not in members.storage:
        return (f"spec.placement.datastore {storage} is not mounted by zone {zone} "
                f"({', '.join(members.storage) or 'none'})")
    return None


def _placement(desired: Desired, observed: ObservedVM) -> tuple[Relocation, Condition | None]:
    """(where to move to, the PlacementSynced condition); no condition when nothing is pinned or named."""
    host, storage, pool = desired.pinned_host, desired.pinned_datastore, desired.pool
    move = Relocation(host=host if host and not matches(host, observed.host) else None,
                      storage=storage if storage and not matches(storage, observed.datastore) else None,
                      pool=pool is not None and pool.name != observed.resource_pool)
    if not (host or storage or (pool is not None and pool.named) or move.pool):
        return move, None
    where = ", ".join(f"{kind} {value}" for kind, value in (("host", observed.host), ("storage", observed.datastore),
                                                            ("pool", observed.resource_pool)) if value)
    if desired.placement_refused and (move.host or move.storage):
        # Not there: a pool move still goes ahead.
        return Relocation(pool=move.pool), Condition(PLACEMENT_SYNCED, False, Reason.PLACEMENT_NOT_IN_ZONE,
                                                     f"on {where}; {desired.placement_refused}")
    if move.is_empty():
        return move, Condition(PLACEMENT_SYNCED, True, Reason.PLACED, f"on {where}")
    if desired.held is not None and _holds(desired, Step.RELOCATE):
        return move, desired.held
    targets = " and ".join(part for part in (f"host {move.host}" if move.host else "",
                                             f"storage {move.storage}" if move.storage else "",
                                             f"pool {pool.name if pool else ''}" if move.pool else "") if part)
    return move, Condition(PLACEMENT_SYNCED, False, Reason.MIGRATING, f"on {where}; moving to {targets}")


def _config_change(spec: VMSpec, observed: ObservedVM) -> tuple[VMChange, str, str | None]:
    """(the change, what cannot shrink, why the backend cannot make the NIC part: then no NIC changes at all)."""
    notes: list[str] = []
    grow: list[tuple[str, int]] = []
    os_disk = next((d for d in observed.disks if d.is_os_disk), None)
    if spec.os_disk_bytes and os_disk is not None:
        if spec.os_disk_bytes > os_disk.size_bytes:
            grow.append((os_disk.key, spec.os_disk_bytes))
        elif spec.os_disk_bytes < os_disk.size_bytes:
            notes.append("the OS disk cannot shrink")
    named = {d.name: d for d in observed.disks if d.name and not d.is_os_disk}
    add: list[DataDisk] = []
    for disk in spec.data_disks:
        current = named.get(disk.name)
        if current is None:
            add.append(disk)
        elif disk.size_bytes > current.size_bytes:
            grow.append((current.key, disk.size_bytes))
        elif disk.size_bytes < current.size_bytes:
            notes.append(f"data disk {disk.name} cannot shrink")
    wanted = {d.name for d in spec.data_disks}
    remove = tuple(d.key for name, d in sorted(named.items()) if name not in wanted)
    nics = nic_change(spec.networks, observed)
    refused = limits.change_refusal(limits.backend_of(spec.placement), nics, observed)
    if refused is not None:
        nics = VMChange()
    change = VMChange(
        cpu=spec.cpu if spec.cpu != observed.cpu else None,
        memory_mib=spec.memory_mib if spec.memory_mib != observed.memory_mib else None,
        grow_disks=tuple(grow), add_disks=tuple(add), remove_disks=remove,
        add_nics=nics.add_nics, change_nics=nics.change_nics, remove_nics=nics.remove_nics,
    )
    return change, "; ".join(notes), refused


def _needs_power_cycle(change: VMChange, observed: ObservedVM) -> bool:
    """CPU and memory can only grow while running, and only where hot-add is enabled; some NIC changes need the VM
    off too (see reconcile.nics)."""
    cpu = change.cpu is not None and (not observed.cpu_hot_add or change.cpu < observed.cpu)
    memory = change.memory_mib is not None and (
        not observed.memory_hot_add or change.memory_mib < observed.memory_mib)
    return observed.power is not PowerState.OFF and (cpu or memory or needs_stop(change, observed))


def _config_condition(desired: Desired, change: VMChange, needs_cycle: bool, shrink_note: str,
                      refused: str | None) -> Condition:
    if desired.quota_refused:
        return _over_quota(desired, CONFIG_SYNCED)
    if desired.image_changed:
        return Condition(CONFIG_SYNCED, False, Reason.RECREATE_REQUIRED,
                         "spec.image changed; an image change is not an in-place update. Create a new ECS "
                         "(or set herder.dev/recreate=true after deleting the VM) to use the new image")
    if shrink_note:
        return Condition(CONFIG_SYNCED, False, Reason.SHRINK_NOT_SUPPORTED, shrink_note)
    if refused:
        return Condition(CONFIG_SYNCED, False, Reason.NOT_SUPPORTED, f"{refused}; the NICs are left as they are")
    if change.is_empty():
        return Condition(CONFIG_SYNCED, True, Reason.CONFIG_SYNCED, "CPU, memory, disks and networks match the spec")
    if needs_cycle and not desired.power_cycle_allowed:
        return Condition(CONFIG_SYNCED, False, Reason.POWER_CYCLE_REQUIRED,
                         "CPU, memory or a NIC change cannot be made while the VM runs (no hot-add or hot-plug). "
                         "Power it off, or set spec.powerCyclePolicy: Automatic to let herder do it")
    return Condition(CONFIG_SYNCED, False, Reason.RECONFIGURING, "applying CPU, memory, disk or network changes")


def _finish(step: Step, conditions: tuple[Condition, ...], *, change: VMChange | None = None,
            power: PowerState | None = None, graceful: bool = False, forget_task: bool = False,
            forget_identity: bool = False, relocate: Relocation | None = None) -> Plan:
    gating = tuple(c for c in conditions if c.type != PAUSED)
    return Plan(step, (*conditions, summary(gating)), change=change or VMChange(), power=power,
                graceful=graceful, forget_task=forget_task, forget_identity=forget_identity,
                relocate=relocate or Relocation())


def drifted(last: Mapping[str, Any], observed: ObservedVM, spec: VMSpec) -> list[str]:
    """What changed on the VM since status last recorded it, where it now differs from the spec: changes made
    out of band (herder's own steps are recorded before they run, so they never show up here)."""
    seen = [("CPU", last.get("cpu"), observed.cpu, spec.cpu),
            ("memory", last.get("memory"), format_mib(observed.memory_mib), format_mib(spec.memory_mib)),
            ("power", last.get("powerState"), observed.power.value, spec.power.value)]
    found = [f"{what} {before} -> {now} (spec {wanted})" for what, before, now, wanted in seen
             if before is not None and now not in {before, wanted}]
    before_disks = {d.get("name"): str(d.get("size")) for d in last.get("disks") or ()}
    now_disks = {"os" if d.is_os_disk else (d.name or d.key): str(d.size_bytes) for d in observed.disks}
    if last.get("disks") is not None and observed.disks and before_disks != now_disks:
        found.append(f"disks {_sizes(before_disks)} -> {_sizes(now_disks)}")
    return found


def _sizes(disks: Mapping[Any, str]) -> str:
    return ", ".join(f"{name}={size}" for name, size in sorted(disks.items(), key=lambda kv: str(kv[0]))) or "none"


class Fate(enum.StrEnum):
    """What deleting an ECS does to its VM."""

    NEVER_CREATED = "NeverCreated"  # no VM was ever made: nothing to do
    UNREACHABLE = "Unreachable"  # its zone is gone: the VM cannot be reached and is left as it is
    GONE = "Gone"  # no VM left on the backend
    ORPHAN = "Orphan"  # deletionPolicy Orphan: left running, herder's marks removed
    DESTROY = "Destroy"  # deletionPolicy Delete: powered off hard and deleted with its disks


def fate(policy: DeletionPolicy, *, zone_exists: bool, recorded: Recorded, vm: ObservedVM | None) -> Fate:
    """`vm`: the VM found on the backend by identity (only asked when the zone exists)."""
    if not zone_exists:
        return Fate.UNREACHABLE if recorded.unique_id or recorded.pending_task else Fate.NEVER_CREATED
    if vm is None:
        return Fate.GONE
    return Fate.ORPHAN if policy is DeletionPolicy.ORPHAN else Fate.DESTROY
