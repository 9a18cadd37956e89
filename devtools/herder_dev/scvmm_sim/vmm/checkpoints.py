"""VM checkpoints: New-, Get-, Set-, Restore- and Remove-SCVMCheckpoint over a per-VM checkpoint tree.

Sources: the VMM cmdlet reference (systemcenter-docs-powershell: New-SCVMCheckpoint has no -JobGroup, nor have
Restore- and Set-SCVMCheckpoint), the VMCheckPoint entity of the SPF/VMM reference (ID, CheckpointID, Name,
Description, AddedTime, ModifiedTime, Enabled, ParentCheckpointID, VMId), and Hyper-V's documentation of
checkpoint types (Set-VM -CheckpointType; "Using checkpoints"):
- Standard checkpoints keep the memory state; applying one brings the VM back exactly as it was.
- Production checkpoints are taken inside the guest (VSS, or a file system freeze on Linux) with no memory state;
  after applying one the VM is off.
- Production falls back to a standard checkpoint when a production one cannot be taken; ProductionOnly fails.
- Disabled blocks checkpoints.
Where the sources are silent the simulator chooses, and says so below.
"""

from __future__ import annotations

import time
from typing import Any

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, guid, string
from herder_dev.scvmm_sim.ps.values import PSObject, to_str
from herder_dev.scvmm_sim.vmm import capacity, effects, views
from herder_dev.scvmm_sim.vmm.cmdlets import Outcome, Vmm, _obj, _switch
from herder_dev.scvmm_sim.vmm.errors import INVALID_STATE, NOT_FOUND, vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store, new_id

# Not in Microsoft's public docs (the VMM error catalogue is not published); the simulator's choice.
CHECKPOINTS_DISABLED = 13250
PRODUCTION_CHECKPOINT_IMPOSSIBLE = 13251

# The statuses a checkpoint can be taken in or restored to; the rest (UnderCreation, CreationFailed, Missing,
# UpdateFailed, transitional ones) are refused with 1730. A VM that a job holds is refused with 1600 first.
STEADY = ("Running", "PowerOff", "Saved", "Paused")
# Hyper-V takes a production checkpoint of a running guest (VSS inside it) or of a VM that is off (its disks
# only). A saved or paused guest cannot prepare one; the docs do not say so outright: the simulator's reading.
PRODUCTION_READY = ("Running", "PowerOff")


def checkpoint_type(vm: Record) -> str:
    return str(vm.get("checkpoint_type", "Production"))  # Hyper-V's default for new VMs


def _taken_as(vm: Record) -> str:
    """The type of checkpoint the VM's setting gives in its current state, or VMM's error."""
    setting = checkpoint_type(vm)
    if setting == "Disabled":
        raise vmm_error(CHECKPOINTS_DISABLED, f"Checkpoints are disabled for virtual machine {vm['name']} "
                                              "(CheckpointType Disabled).")
    if setting == "Standard" or vm["status"] in PRODUCTION_READY:
        return "Standard" if setting == "Standard" else "Production"
    if setting == "ProductionOnly":
        raise vmm_error(PRODUCTION_CHECKPOINT_IMPOSSIBLE, f"A production checkpoint of virtual machine "
                                                          f"{vm['name']} cannot be taken while it is {vm['status']}, "
                                                          "and its CheckpointType is ProductionOnly.")
    return "Standard"  # Production falls back to a standard checkpoint


def _steady(vm: Record, action: str) -> None:
    if vm["status"] not in STEADY:
        raise vmm_error(INVALID_STATE, f"Unable to {action} virtual machine {vm['name']} while it is "
                                       f"{vm['status']}.")


def _new(store: Store, vm: Record, effect: Record) -> None:
    cp = effect["checkpoint"]
    cp["parent"] = vm.get("current_checkpoint")
    vm["checkpoints"].append(cp)
    vm["current_checkpoint"] = cp["checkpoint_id"]


def _restore(store: Store, vm: Record, effect: Record) -> None:
    cp = next(c for c in vm["checkpoints"] if c["id"] == effect["checkpoint"])
    config = cp["config"]
    vm.update(cpu_count=config["cpu_count"], memory_mb=config["memory_mb"],
              dynamic_memory=config.get("dynamic_memory", vm["dynamic_memory"]),
              disks=[dict(d) for d in config["disks"]])  # a copy: the checkpoint keeps its own
    # A standard checkpoint brings back the power state it was taken in; a production one leaves the VM off.
    # (Checkpoints in state files written before types were modelled restore as the standard ones they were.)
    effect["status"] = config["status"] if cp.get("type", "Standard") == "Standard" else "PowerOff"
    vm["current_checkpoint"] = cp["checkpoint_id"]


def _remove(store: Store, vm: Record, effect: Record) -> None:
    """Hyper-V merges a removed checkpoint: its children survive, re-parented to its parent."""
    cp = next(c for c in vm["checkpoints"] if c["id"] == effect["checkpoint"])
    for child in vm["checkpoints"]:
        if child.get("parent") == cp["checkpoint_id"]:
            child["parent"] = cp.get("parent")
    if vm.get("current_checkpoint") == cp["checkpoint_id"]:
        vm["current_checkpoint"] = cp.get("parent")
    vm["checkpoints"].remove(cp)


def _set(store: Store, vm: Record, effect: Record) -> None:
    cp = next((c for c in vm["checkpoints"] if c["id"] == effect["checkpoint"]), None)
    if cp is not None:
        cp.update(effect["fields"], modified=time.time())


effects.register_vm("new_checkpoint", _new)
effects.register_vm("restore_checkpoint", _restore)
effects.register_vm("remove_checkpoint", _remove)
effects.register_vm("set_checkpoint", _set)


class Checkpoints(Vmm):
    def new_checkpoint(self, inv: Invocation) -> Outcome:
        vm = self._idle_vm(inv)
        _steady(vm, "create a checkpoint of")
        now = time.time()
        name = inv.get("Name") or f"{vm['name']} - ({time.strftime('%m/%d/%Y - %H:%M:%S', time.localtime(now))})"
        cp = {"id": new_id(), "checkpoint_id": new_id(), "name": name, "description": inv.get("Description", ""),
              "added": now, "modified": now, "type": _taken_as(vm),
              "config": {"cpu_count": vm["cpu_count"], "memory_mb": vm["memory_mb"],
                         "dynamic_memory": vm["dynamic_memory"], "disks": [dict(d) for d in vm["disks"]],
                         "status": vm["status"]}}
        outcome = self._vm_job(inv, vm, "Create checkpoint", vm["status"], {"kind": "new_checkpoint",
                                                                            "checkpoint": cp})
        # -RunAsynchronously: the checkpoint as it will be, before its job adds it to the VM
        return Outcome(lambda: self._out(vm["id"], cp["id"]) or [views.checkpoint(vm, cp)], outcome.job)

    def _out(self, vm_id: str, cp_id: str) -> list[Any]:
        vm = self.store.find("vms", vm_id)
        return [views.checkpoint(vm, c) for c in vm["checkpoints"] if c["id"] == cp_id] if vm else []

    def get_checkpoint(self, inv: Invocation) -> Outcome:
        vms = [self._vm(inv)] if inv.has("VM") else self.store.all("vms")
        pairs = [(v, c) for v in vms for c in v["checkpoints"]]
        if inv.has("ID"):
            pairs = [(v, c) for v, c in pairs if c["id"] == str(inv.get("ID"))]
        if inv.get("MostRecent"):
            pairs = sorted(pairs, key=lambda p: p[1]["added"])[-1:]
        return Outcome(lambda: [views.checkpoint(v, c) for v, c in pairs])

    def _target(self, inv: Invocation) -> tuple[Record, Record]:
        obj: PSObject = inv.get("VMCheckpoint")
        vm = self.store.get("vms", to_str(obj.props["VMId"]), "virtual machine")
        cp = next((c for c in vm["checkpoints"] if c["id"] == str(obj.props["ID"])), None)
        if cp is None:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the checkpoint object with ID {obj.props['ID']}.")
        return vm, cp

    def set_checkpoint(self, inv: Invocation) -> Outcome:
        vm, cp = self._target(inv)
        fields = {key: inv.get(param) for param, key in (("Name", "name"), ("Description", "description"))
                  if inv.has(param)}
        outcome = self._vm_job(inv, vm, "Change properties of checkpoint", vm["status"],
                               {"kind": "set_checkpoint", "checkpoint": cp["id"], "fields": fields})
        return Outcome(lambda: self._out(vm["id"], cp["id"]), outcome.job)

    def restore_checkpoint(self, inv: Invocation) -> Outcome:
        vm, cp = self._target(inv)
        self.store.ensure_idle(vm["id"], vm["name"])
        _steady(vm, "restore a checkpoint of")
        capacity.admit_change(self.store, vm, cp["config"])  # restoring can grow the VM back
        outcome = self._vm_job(inv, vm, "Restore checkpoint", "UnderUpdate",
                               {"kind": "restore_checkpoint", "checkpoint": cp["id"]})
        return Outcome(lambda: self._out(vm["id"], cp["id"]), outcome.job)

    def remove_checkpoint(self, inv: Invocation) -> Outcome:
        vm, cp = self._target(inv)
        outcome = self._vm_job(inv, vm, "Remove checkpoint", vm["status"],
                               {"kind": "remove_checkpoint", "checkpoint": cp["id"]})
        return Outcome(lambda: [], outcome.job)

    def cmdlets(self) -> list[Cmdlet]:
        c = self._cmdlet
        vm = _obj("VM", views.VM, pipeline=True)
        checkpoint = _obj("VMCheckpoint", views.CHECKPOINT, mandatory=True, pipeline=True)
        run_async = _switch("RunAsynchronously")
        return [
            c("New-SCVMCheckpoint", (
                Param("VM", views.VM, vm.convert, mandatory=True, position=0, pipeline=True),
                Param("Name", convert=string), Param("Description", convert=string), run_async,
            ), self.new_checkpoint),
            c("Get-SCVMCheckpoint", (vm, _switch("MostRecent"), Param("ID", "System.Guid", guid)),
              self.get_checkpoint, exclusive=(("VM", "ID"), ("MostRecent", "ID"))),
            c("Set-SCVMCheckpoint", (checkpoint, Param("Name", convert=string), Param("Description", convert=string),
                                     run_async), self.set_checkpoint),
            c("Restore-SCVMCheckpoint", (checkpoint, run_async), self.restore_checkpoint),
            c("Remove-SCVMCheckpoint", (checkpoint, run_async), self.remove_checkpoint),
        ]
