"""What a VMM job does to the inventory when it completes, or fails. Effects are data, so they persist."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from herder_dev.scvmm_sim.vmm.state import Store

Record = dict[str, Any]
Effect = Callable[["Store", Record], None]
VmChange = Callable[["Store", Record, Record], None]  # (store, the VM, the effect)
_REGISTERED: dict[str, Effect] = {}


def register(kind: str, effect: Effect) -> None:
    """Give an effect kind of another module its completion; fail_effect still applies when its job fails."""
    _REGISTERED[kind] = effect


def register_vm(kind: str, change: VmChange) -> None:
    """An effect on one VM: nothing if the VM went away meanwhile; after the change the VM shows
    effect["status"], or the status it had before the job."""

    def effect(store: Store, e: Record) -> None:
        vm = _vm(store, e)
        if vm is not None:
            change(store, vm, e)
            vm["status"] = e.get("status") or e["prev"]

    register(kind, effect)


def _vm(store: Store, effect: Record) -> Record | None:
    return store.find("vms", effect["vm"]) if effect.get("vm") else None


def _disk_index(vm: Record, disk_id: str) -> int:
    return next(i for i, d in enumerate(vm["disks"]) if d["id"] == disk_id)


def apply_effect(store: Store, effect: Record) -> None:
    kind = effect["kind"]
    if kind in store.handlers:  # effects that need an object of this store (its library, its networks)
        store.handlers[kind][0](store, effect)
        return
    if kind in _REGISTERED:  # effects on the inventory alone
        _REGISTERED[kind](store, effect)
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
    vm["status"] = effect.get("status") or effect["prev"]


def fail_effect(store: Store, effect: Record) -> None:
    if effect["kind"] in store.handlers:
        store.handlers[effect["kind"]][1](store, effect)
        return
    vm = _vm(store, effect)
    if vm is not None:
        vm["status"] = effect.get("fail_status") or effect["prev"]
