"""What decides whether a step fits its place, before the backend is asked: a VMM cloud's room by its
ResourcePool's stored status (a create, a move into the cloud, a resize in it), and pins against the zone's
members. herder plan asks the same functions through `sync.decide`."""

from __future__ import annotations

from dataclasses import replace

from herder.api.ecs import PowerState
from herder.controllers.ecs.fit import added
from herder.providers.types import (
    Counts,
    DataDisk,
    ObservedDisk,
    ObservedVM,
    Relocation,
    SCVMMPlacement,
    VMChange,
    VMSpec,
    ZoneMembers,
)
from herder.reconcile.conditions import Condition
from herder.reconcile.ecs import Plan, Step, pins_outside
from herder.reconcile.pool import CloudRoom, cloud_refusal, cloud_room

GIB = 1 << 30
ROOM = CloudRoom("gold", "gold", limits=Counts(servers=3, vcpus=8, memory_mib=8192, storage_gib=None),
                 used=Counts(servers=2, vcpus=6, memory_mib=6144, storage_gib=40))
SPEC = VMSpec(uid="u", name="ns.web", template="t", cpu=2, memory_mib=2048, placement=SCVMMPlacement(cloud="gold"),
              data_disks=(DataDisk("data", 10 * GIB),))
VM = ObservedVM(unique_id="id-1", ref="id-1", name="ns.web", power=PowerState.ON, cpu=2, memory_mib=2048,
                disks=(ObservedDisk("d0", 20 * GIB, is_os_disk=True),), resource_pool="gold")


def step(kind: Step, **fields: object) -> Plan:
    return Plan(kind, (Condition("Ready", False, None, ""),), **fields)  # type: ignore[arg-type]


def test_the_cloud_is_read_from_the_pools_status() -> None:
    status = {"path": "gold", "capacity": {"servers": 3, "vcpus": 8, "memory": "8Gi"},
              "usage": {"servers": 2, "vcpus": 6, "memory": "6Gi", "storage": "40Gi"}}
    assert cloud_room("gold", status) == ROOM
    assert cloud_room("gold", {"path": "gold", "usage": {"servers": 0}}) is None  # no capacity reported yet


def test_a_create_the_cloud_has_room_for_is_admitted_and_one_over_a_limit_is_refused_naming_it() -> None:
    assert added(step(Step.CREATE), SPEC, None, ROOM, "gold") == Counts(servers=1, vcpus=2, memory_mib=2048,
                                                                         storage_gib=10)
    assert cloud_refusal(ROOM, Counts(servers=1, vcpus=2, memory_mib=2048, storage_gib=10)) is None
    refused = cloud_refusal(ROOM, Counts(servers=1, vcpus=3))
    assert refused is not None and "cloud gold has no room: vCPUs 6 used of 8, 3 more asked" in refused
    assert "spec.cpu.vcpuLimit" in refused


def test_a_move_into_the_cloud_adds_the_whole_vm_and_a_resize_there_its_growth() -> None:
    outside = replace(VM, resource_pool="other")
    assert added(step(Step.RELOCATE, relocate=Relocation(pool=True)), SPEC, outside, ROOM, "gold") == Counts(
        servers=1, vcpus=2, memory_mib=2048, storage_gib=20)
    grow = step(Step.RECONFIGURE, change=VMChange(cpu=4, grow_disks=(("d0", 25 * GIB),)))
    assert added(grow, SPEC, VM, ROOM, "gold") == Counts(vcpus=2, memory_mib=0, storage_gib=5)
    assert added(grow, SPEC, outside, ROOM, "gold") is None  # a resize outside the cloud takes nothing of it
    assert added(step(Step.POWER), SPEC, VM, ROOM, "gold") is None


def test_pins_are_checked_against_the_zones_hosts_and_storage() -> None:
    vcenter = ZoneMembers(hosts=("DC0_C0_H0", "DC0_C0_H1"), storage=("LocalDS_0",))
    assert pins_outside("z", "/DC0/host/DC0_C0/DC0_C0_H1", "LocalDS_0", vcenter, paths=False) is None
    assert "host DC0_C1_H0 is not a host of zone z" in str(pins_outside("z", "DC0_C1_H0", None, vcenter, paths=False))
    assert "datastore LocalDS_9 is not mounted" in str(pins_outside("z", None, "LocalDS_9", vcenter, paths=False))
    scvmm = ZoneMembers(hosts=("hv-a1.herder.test",), storage=("D:\\VMs", "C:\\ClusterStorage\\Volume1"))
    assert pins_outside("z", "HV-A1", "c:\\clusterstorage\\volume1\\fast\\", scvmm, paths=True) is None
    assert "storagePath E:\\VMs is not under" in str(pins_outside("z", None, "E:\\VMs", scvmm, paths=True))
    assert "D:\\VMsOther" in str(pins_outside("z", None, "D:\\VMsOther", scvmm, paths=True))
