"""What a VMM job does to the inventory when it completes, or fails. Effects are data, so they persist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from herder_dev.scvmm_sim.vmm.state import Store

Record = dict[str, Any]


def _vm(store: Store, effect: Record) -> Record | None:
    return store.find("vms", effect["vm"]) if effect.get("vm") else None


def _disk_index(vm: Record, disk_id: str) -> int:
    return next(i for i, d in enumerate(vm["disks"]) if d["id"] == disk_id)


def apply_effect(store: Store, effect: Record) -> None:
    kind = effect["kind"]
    if kind in store.handlers:
        store.handlers[kind][0](store, effect)
        return
    vm = _vm(store, effect)
    if vm is None and kind != "none":
        return  # the VM went away meanwhile (e.g. removed with -Force)
    if kind == "remove_vm":
        store.data["vms"].remove(vm)
        return
    if vm is None:
        return
    if kind == "update":
        vm.update(effect.get("fields", {}))
    elif kind == "add_disk":
        vm["disks"].append(effect["disk"])
    elif kind == "expand_disk":
        vm["disks"][_disk_index(vm, effect["disk"])]["size_mb"] = effect["size_mb"]
    elif kind == "remove_disk":
        del vm["disks"][_disk_index(vm, effect["disk"])]
    elif kind == "new_checkpoint":
        vm["checkpoints"].append(effect["checkpoint"])
    elif kind == "restore_checkpoint":
        cp = next(c for c in vm["checkpoints"] if c["id"] == effect["checkpoint"])
        vm.update({k: cp["config"][k] for k in ("cpu_count", "memory_mb", "disks")})
        effect["status"] = cp["config"]["status"]
    elif kind == "remove_checkpoint":
        vm["checkpoints"] = [c for c in vm["checkpoints"] if c["id"] != effect["checkpoint"]]
    vm["status"] = effect.get("status") or effect["prev"]


def fail_effect(store: Store, effect: Record) -> None:
    if effect["kind"] in store.handlers:
        store.handlers[effect["kind"]][1](store, effect)
        return
    vm = _vm(store, effect)
    if vm is not None:
        vm["status"] = effect.get("fail_status") or effect["prev"]
