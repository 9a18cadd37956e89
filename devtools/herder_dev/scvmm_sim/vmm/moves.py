"""Migration: Move-SCVirtualMachine to another host (live when the VM runs) and of its storage (-Path).

Source: Move-SCVirtualMachine in the VMM cmdlet reference: -VM (position 0, from the pipeline), -VMHost,
-Path ("the path of the moved virtual machine"), -StartVMOnTarget, -DiscardSavedState, -UseLAN,
-BlockLiveMigrationIfHostBusy, -JobGroup, -RunAsynchronously; it returns the VM. Disable-SCVMHost: a host in
maintenance mode takes no migrated VMs. The simulator's hosts share their storage (C:\\ClusterStorage), so a
move to another host without -Path keeps the VM's files where they are, and a move with -Path alone is a storage
migration on the same host; the reference is silent on both, as on the files' folder: <Path>\\<VM name>, as VMM
places new VMs. -UseLAN and -BlockLiveMigrationIfHostBusy choose a transfer method, which the simulator does
not model; -JobGroup groups Move-SCVirtualHardDisk, which it does not model either. -HighlyAvailable,
-UseCluster, -ReplicationGroup and -UseDiffDiskOptimization are not accepted: no simulated host is clustered.
"""

from __future__ import annotations

import ntpath

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, guid, of_type, string
from herder_dev.scvmm_sim.vmm import effects, placement, views
from herder_dev.scvmm_sim.vmm.cmdlets import GUID, Outcome, Vmm, _switch, _under
from herder_dev.scvmm_sim.vmm.errors import INVALID_STATE, vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store

# Not in Microsoft's public docs (the VMM error catalogue is not published); the simulator's choice.
NOTHING_TO_MOVE = 13261
HOST_LACKS_MEMORY = 13262

MOVABLE = ("Running", "PowerOff", "Saved", "Paused")
LIVE = ("Running", "Paused")  # their memory moves with them: the target needs room for it


def _move(store: Store, vm: Record, effect: Record) -> None:
    vm.update(host=effect["host"], host_group=effect["host_group"], location=effect["location"])


effects.register_vm("move_vm", _move)


class Moves(Vmm):
    def move_vm(self, inv: Invocation) -> Outcome:
        vm = self._idle_vm(inv)
        if vm["status"] not in MOVABLE:
            raise vmm_error(INVALID_STATE, f"Unable to migrate virtual machine {vm['name']} while it is "
                                           f"{vm['status']}.")
        target = self._ref(inv, "VMHost", "hosts", "host") or self.store.get("hosts", vm["host"], "host")
        location = ntpath.join(inv.get("Path"), vm["name"]) if inv.has("Path") else views.vm_location(vm)
        if target["id"] == vm["host"] and location == views.vm_location(vm):
            raise vmm_error(NOTHING_TO_MOVE, f"Virtual machine {vm['name']} is already on host {target['name']} "
                                             f"at {location}.")
        if target["id"] != vm["host"]:
            self._check_target(vm, target)
        status = vm["status"]
        if status == "Saved" and inv.get("DiscardSavedState"):
            status = "PowerOff"
        if status in ("PowerOff", "Saved") and inv.get("StartVMOnTarget"):
            status = "Running"
        return self._vm_job(inv, vm, "Migrate virtual machine", "UnderMigration", {
            "kind": "move_vm", "host": target["id"], "host_group": target["host_group"], "location": location,
            "status": status})

    def _check_target(self, vm: Record, target: Record) -> None:
        placement.ensure_placeable(target)
        cloud = self.store.find("clouds", vm["cloud"]) if vm["cloud"] else None
        if cloud is not None and not any(_under(target["host_group"], p) for p in cloud["host_groups"]):
            raise vmm_error(23760, f"The host {target['name']} is not in a host group of cloud {cloud['name']}, "
                                   f"where virtual machine {vm['name']} is placed.")
        free = target["memory_mb"] - views.used_memory_mb(self.store, target["id"])
        if vm["status"] in LIVE and vm["memory_mb"] > free:
            raise vmm_error(HOST_LACKS_MEMORY, f"The host {target['name']} has {free} MB of memory available; "
                                               f"virtual machine {vm['name']} needs {vm['memory_mb']} MB.")

    def cmdlets(self) -> list[Cmdlet]:
        return [self._cmdlet("Move-SCVirtualMachine", (
            Param("VM", views.VM, of_type(views.VM), mandatory=True, position=0, pipeline=True),
            Param("VMHost", views.HOST, of_type(views.HOST)), Param("Path", convert=string),
            _switch("StartVMOnTarget"), _switch("DiscardSavedState"), _switch("UseLAN"),
            _switch("BlockLiveMigrationIfHostBusy"), Param("JobGroup", GUID, guid), _switch("RunAsynchronously"),
        ), self.move_vm)]
