"""A step in words: what `herder plan` prints for a step a planner would take, and what the controller posts as
the Event of a step it takes (an ECS's, a ServerSnapshot's, a ServerSnapshotRestore's). One wording, so a plan
and what happened read alike. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from herder.api import format_mib
from herder.api.ecs import PowerState
from herder.providers.types import NICSpec, ObservedDisk, ObservedNIC, ObservedVM, VMChange, VMSpec
from herder.reconcile.ecs import Desired, Plan, Step
from herder.reconcile.image import size_text

# The names steps go by (herder plan's JSON `do`, the Event's reason).
_POWER = {PowerState.ON: "PowerOn", PowerState.OFF: "PowerOff", PowerState.SUSPENDED: "Suspend"}


@dataclass(frozen=True)
class Told:
    do: str
    summary: str
    changes: tuple[tuple[str, str | None, str | None], ...] = ()  # (what, before, after)
    data_loss: bool = False
    details: dict[str, str] = field(default_factory=dict)


def disk_name(disk: ObservedDisk) -> str:
    return "os" if disk.is_os_disk else (disk.name or disk.key)


def disks(vm: ObservedVM) -> str:
    return ", ".join(f"{disk_name(d)} {size_text(d.size_bytes)}" for d in vm.disks) or "none known"


def nic_text(nic: NICSpec) -> str:
    """A NIC as asked: its network, VLAN, MAC address and static address."""
    parts = [nic.network] + [f"VLAN {nic.vlan}"] * (nic.vlan is not None) + [f"MAC {nic.mac}"] * bool(nic.mac)
    if nic.static:
        parts.append(f"static {nic.address}" if nic.address else "static from the pool")
    return " ".join(parts)


def _shape(spec: VMSpec) -> str:
    parts = [f"{spec.cpu} vCPU", f"{format_mib(spec.memory_mib)} memory"]
    if spec.os_disk_bytes:
        parts.append(f"OS disk {size_text(spec.os_disk_bytes)}")
    parts += [f"data disk {d.name} {size_text(d.size_bytes)}" for d in spec.data_disks]
    if spec.networks:
        parts.append("networks " + ", ".join(nic_text(n) for n in spec.networks))
    return ", ".join(parts) + f"; power {spec.power}"


def _create(desired: Desired, zone: str, choice: str | None, pool: str | None, image: str | None) -> Told:
    spec = desired.spec
    details = {"vm": spec.name, "zone": zone, "template": spec.template}
    source = f"{image} (template {spec.template})" if image else spec.template
    summary = f"create VM {spec.name} in zone {zone} from {source}: {_shape(spec)}"
    if choice:
        details["zoneChoice"] = choice
        summary += f" (the scheduler's choice: {choice})"
    if pool:
        details["resourcePool"] = pool
    return Told("Create", summary, details=details)


def _reconfigure(vm: ObservedVM, change: VMChange) -> Told:
    by_key = {d.key: d for d in vm.disks}
    changes: list[tuple[str, str | None, str | None]] = []
    if change.cpu is not None:
        changes.append(("CPU", str(vm.cpu), str(change.cpu)))
    if change.memory_mib is not None:
        changes.append(("memory", format_mib(vm.memory_mib), format_mib(change.memory_mib)))
    for key, size in change.grow_disks:
        disk = by_key.get(key)
        changes.append((f"disk {disk_name(disk) if disk else key}", size_text(disk.size_bytes) if disk else None,
                        size_text(size)))
    changes += [(f"disk {d.name}", None, size_text(d.size_bytes)) for d in change.add_disks]
    removed = [by_key[key] for key in change.remove_disks if key in by_key]
    changes += [(f"disk {disk_name(d)}", size_text(d.size_bytes), None) for d in removed]
    changes += _nic_changes(vm, change)
    words = [f"{what} {before} -> {after}" if before and after else f"add {what} ({after})" if after
             else f"remove {what} ({before})" for what, before, after in changes]
    summary = "reconfigure: " + "; ".join(words) + (". The removed disks' data is lost" if removed else "")
    return Told("Reconfigure", summary, tuple(changes), data_loss=bool(removed))


def _seen(nic: ObservedNIC) -> str:
    return " ".join(part for part in (nic.network or "?", f"VLAN {nic.vlan}" if nic.vlan else "",
                                      f"MAC {nic.mac}" if nic.mac else "") if part)


def _nic_changes(vm: ObservedVM, change: VMChange) -> list[tuple[str, str | None, str | None]]:
    """NICs by position (NIC 0 is the template's): changed in place, removed from the end, added at the end."""
    position = {nic.key: index for index, nic in enumerate(vm.nics)}
    by_key = {nic.key: nic for nic in vm.nics}
    found: list[tuple[str, str | None, str | None]] = [
        (f"NIC {position.get(key, key)}", _seen(by_key[key]) if key in by_key else None, nic_text(nic))
        for key, nic in change.change_nics]
    found += [(f"NIC {position.get(key, key)}", _seen(by_key[key]) if key in by_key else "?", None)
              for key in change.remove_nics]
    first = len(vm.nics) - len(change.remove_nics)
    found += [(f"NIC {index}", None, nic_text(nic)) for index, nic in enumerate(change.add_nics, start=first)]
    return found


def _power(vm: ObservedVM, p: Plan, desired: Desired) -> Told:
    target = p.power or vm.power
    if desired.capture_hold is not None:
        why = f"{desired.capture_hold.by} captures this server"
    elif target is PowerState.OFF and desired.spec.power is not PowerState.OFF:
        why = ("a power cycle: CPU, memory or a NIC cannot change while the VM runs; spec.powerCyclePolicy "
               "Automatic allows it")
    else:
        why = f"spec.powerState is {desired.spec.power}"
    how = " through the guest OS" if p.graceful else ""
    return Told(_POWER[target], f"power {target.value.lower()}{how} ({why})",
                (("power", vm.power.value, target.value),))


def _relocate(vm: ObservedVM, p: Plan, desired: Desired) -> Told:
    move, pool = p.relocate, desired.pool
    changes = tuple((what, before, after) for what, before, after in
                    (("host", vm.host, move.host), ("storage", vm.datastore, move.storage),
                     ("pool", vm.resource_pool, pool.name if move.pool and pool is not None else None)) if after)
    targets = " and ".join(f"{what} {after}" for what, _, after in changes)
    how = "; ".join(part for part in ("vMotion / live migration" if move.host or move.storage else "",
                                      f"its power state stays {vm.power}") if part)
    return Told("Relocate", f"move the VM live to {targets} ({how})", changes)


def told(p: Plan, vm: ObservedVM | None, desired: Desired, *, zone: str, choice: str | None = None,
         pool: str | None = None, image: str | None = None) -> Told:
    """Step `p` (not NONE or WAIT) on `vm` (None: there is none yet). `image`: the ECS's (`Kind/name`)."""
    if p.step is Step.CREATE or vm is None:
        return _create(desired, zone, choice, pool, image)
    if p.step is Step.RECONFIGURE:
        return _reconfigure(vm, p.change)
    if p.step is Step.POWER:
        return _power(vm, p, desired)
    if p.step is Step.RELOCATE:
        return _relocate(vm, p, desired)
    if p.step is Step.ADOPT:
        return Told("Adopt", f"adopt VM {vm.name} ({vm.unique_id}): mark it as this server's and manage it")
    if p.step is Step.DESTROY_FOR_RECREATE:
        return Told("Recreate", f"destroy VM {vm.name} with its disks ({disks(vm)}) to create it again from the new "
                    "image (herder.dev/recreate is set): their data is lost", data_loss=True)
    return Told("RemoveFailedCreate", f"remove VM {vm.name}, left half-made by a create that failed", data_loss=True)


def snapshot_taken(server: str, vm: ObservedVM, *, memory: bool, quiesce: bool) -> Told:
    """A ServerSnapshot's one step: take the snapshot of its server's VM."""
    how = "with memory (a revert resumes it running)" if memory else "without memory"
    quiesced = ", quiesced first (the guest's file systems are flushed)" if quiesce else ""
    return Told("TakeSnapshot", f"take a snapshot of server {server} (VM {vm.name}) {how}{quiesced}",
                details={"server": server, "vm": vm.name, "memory": str(memory).lower(),
                         "quiesce": str(quiesce).lower()})


def reverted(server: str, vm: ObservedVM, snapshot: str, unique_id: str) -> Told:
    """A ServerSnapshotRestore's revert: the server's VM back to the snapshot; what it held since is lost."""
    return Told("Revert", f"revert server {server} (VM {vm.name}) to snapshot {snapshot} ({unique_id}): its disks, "
                "CPU, memory and power state as the snapshot kept them; what changed since is lost",
                data_loss=True, details={"server": server, "vm": vm.name, "snapshot": snapshot})


def restore_powered(server: str, before: PowerState | None, wanted: PowerState) -> Told:
    """A ServerSnapshotRestore's power step after the revert (its spec.powerState). `before`: as the revert left
    the VM (None: not known)."""
    return Told(_POWER[wanted], f"power {wanted.value.lower()} server {server} after the revert (the restore's "
                f"spec.powerState is {wanted})", (("power", before.value if before else None, wanted.value),))
