"""A provider with its reads and nothing else: what `herder plan` is given, so that it cannot change a backend.

Each wrapper forwards the methods of one read Protocol of `herder.providers.base` and has no other: a call to
create, reconfigure, power, move, destroy, adopt, capture, import, change a pool, or take, revert or remove a
snapshot is neither in the type nor on the object. The backend's own reads stay read-only too: the vCenter
provider is built with `read_only=True`, so looking up herder's custom field never defines it
(`providers.vcenter.fields`).
"""

from __future__ import annotations

from collections.abc import Mapping

from herder.providers.base import ImageReads, InventoryReads, PoolReads, Provider, SnapshotReads, VMReads, Zones
from herder.providers.types import (
    AddressPool,
    NICSpec,
    ObservedPool,
    ObservedSnapshot,
    ObservedVM,
    Placement,
    TaskRef,
    TaskResult,
    TemplateInfo,
    VMLocation,
    ZoneCapacity,
    ZoneMembers,
)


class _VMs:
    def __init__(self, vms: VMReads) -> None:
        self.__vms = vms

    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        return self.__vms.find(uid, known_ref)

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        return self.__vms.find_by_unique_id(unique_id)

    def locate(self, vm: ObservedVM) -> VMLocation:
        return self.__vms.locate(vm)

    def task(self, task: TaskRef) -> TaskResult:
        return self.__vms.task(task)

    def address_pools(self, nics: tuple[NICSpec, ...]) -> tuple[AddressPool | None, ...]:
        return self.__vms.address_pools(nics)


class _Inventory:
    def __init__(self, inventory: InventoryReads) -> None:
        self.__inventory = inventory

    def snapshot(self) -> Mapping[str, ObservedVM]:
        return self.__inventory.snapshot()

    def lookup(self, uid: str, recorded: str | None = None) -> ObservedVM | None:
        return self.__inventory.lookup(uid, recorded)

    def refresh(self, ref: str) -> ObservedVM | None:
        return self.__inventory.refresh(ref)


class _Snapshots:
    def __init__(self, snapshots: SnapshotReads) -> None:
        self.__snapshots = snapshots

    def find(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        return self.__snapshots.find(vm, uid)

    def task(self, task: TaskRef) -> TaskResult:
        return self.__snapshots.task(task)


class _Images:
    def __init__(self, images: ImageReads) -> None:
        self.__images = images

    def find_template(self, ref: str) -> TemplateInfo | None:
        return self.__images.find_template(ref)

    def find_disk(self, ref: str) -> TemplateInfo | None:
        return self.__images.find_disk(ref)

    def task(self, task: TaskRef) -> TaskResult:
        return self.__images.task(task)


class _Pools:
    def __init__(self, pools: PoolReads) -> None:
        self.__pools = pools

    def observe(self, ref: str) -> ObservedPool | None:
        return self.__pools.observe(ref)


class _Zones:
    def __init__(self, zones: Zones) -> None:
        self.__zones = zones

    def capacity(self, placement: Placement) -> ZoneCapacity | None:
        return self.__zones.capacity(placement)

    def members(self, placement: Placement) -> ZoneMembers:
        return self.__zones.members(placement)


class ReadOnly:
    """`ProviderReads` over a provider: its VMs, inventory, snapshots, images, pools and zones, reads only."""

    def __init__(self, provider: Provider) -> None:
        self.vms = _VMs(provider.vms)
        self.inventory = _Inventory(provider.inventory)
        self.snapshots = _Snapshots(provider.snapshots)
        self.images = _Images(provider.images)
        self.pools = _Pools(provider.pools)
        self.zones = _Zones(provider.zones)
