"""Resource pools and live moves against vcsim, with govc as the witness."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from test_vcenter_servers import _create, _spec, _wait
from vcsim_world import Vcsim

from herder.errors import InUse, OutsideZone
from herder.providers.types import (
    Allocation,
    ObservedVM,
    PoolSpec,
    PowerState,
    Relocation,
    SharesLevel,
    VCenterPlacement,
)
from herder.providers.vcenter import VCenterProvider

ZONE = VCenterPlacement(cluster="DC0_C0")


def _pool_info(vcsim: Vcsim, path: str) -> dict[str, object]:
    pools = vcsim.govc_json("pool.info", "-json", path).get("resourcePools") or []
    assert len(pools) == 1, pools
    config = pools[0]["config"]
    return {"cpu": config["cpuAllocation"], "memory": config["memoryAllocation"]}


def test_nested_pools_are_created_updated_live_and_deleted(provider: VCenterProvider, vcsim: Vcsim) -> None:
    name = f"team-{uuid.uuid4().hex[:6]}"
    spec = PoolSpec(name, ZONE, cpu=Allocation(reservation=1000, limit=4000, shares_level=SharesLevel.HIGH),
                    memory=Allocation(reservation=1024, limit=None, shares_level=SharesLevel.CUSTOM, shares=500,
                                      expandable_reservation=False))
    parent = provider.pools.ensure(spec)
    assert parent.path == f"/DC0/host/DC0_C0/Resources/{name}"
    assert (parent.cpu, parent.memory) == (spec.cpu, spec.memory)
    info = _pool_info(vcsim, parent.path)
    assert info["cpu"]["reservation"] == 1000 and info["cpu"]["limit"] == 4000  # type: ignore[index]
    assert info["cpu"]["shares"]["level"] == "high"  # type: ignore[index]
    assert info["memory"]["shares"] == {"level": "custom", "shares": 500}  # type: ignore[index]
    assert info["memory"]["expandableReservation"] is False  # type: ignore[index]
    # Repeating finds it (by ref, and by name after a crash) instead of making a second one.
    assert provider.pools.ensure(spec, known_ref=parent.ref).ref == parent.ref
    assert provider.pools.ensure(spec).ref == parent.ref

    child_spec = PoolSpec("child-" + name, VCenterPlacement(cluster="DC0_C0",
                                                            resource_pool=parent.path))
    child = provider.pools.ensure(child_spec)
    assert child.path == f"{parent.path}/child-{name}"
    assert child.path in vcsim.govc("find", parent.path, "-type", "p").split()

    # A VM in the child keeps running while the child's settings change.
    vm = _create(provider, _spec(f"in-{name}", placement=VCenterPlacement(
        cluster="DC0_C0", datastore="LocalDS_0", network="VM Network", resource_pool=child.path)))
    assert vm.power is PowerState.ON
    updated = provider.pools.ensure(PoolSpec(child_spec.name, child_spec.parent, cpu=Allocation(limit=2000)),
                                    known_ref=child.ref)
    assert updated.cpu.limit == 2000 and updated.vms == 1
    assert _pool_info(vcsim, child.path)["cpu"]["limit"] == 2000  # type: ignore[index]
    assert vcsim.vm_info(f"in-{name}")["runtime"]["powerState"] == "poweredOn"

    with pytest.raises(InUse):
        provider.pools.delete(child.ref)
    with pytest.raises(InUse):  # a child pool counts too
        provider.pools.delete(parent.ref)
    _wait(provider, provider.vms.destroy(vm))
    provider.pools.delete(child.ref)
    provider.pools.delete(parent.ref)
    provider.pools.delete(parent.ref)  # gone already: fine
    assert provider.pools.observe(parent.ref) is None
    assert name not in vcsim.govc("ls", "/DC0/host/DC0_C0/Resources")


def _moved(provider: VCenterProvider, vm: ObservedVM, check: Callable[[ObservedVM], bool]) -> ObservedVM:
    deadline = time.monotonic() + 10
    moved = provider.vms.find(vm.unique_id)
    while moved is not None and not check(moved) and time.monotonic() < deadline:
        time.sleep(0.2)
        moved = provider.vms.find(vm.unique_id)
    assert moved is not None and check(moved), moved
    return moved


def test_relocate_moves_a_running_vm_to_another_host(provider: VCenterProvider, vcsim: Vcsim) -> None:
    name = f"move-{uuid.uuid4().hex[:6]}"
    vm = _create(provider, _spec(name))
    target = next(h for h in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2") if h != vm.host)
    _wait(provider, provider.vms.relocate(vm, Relocation(host=target), ZONE))
    moved = _moved(provider, vm, lambda m: m.host == target)
    assert moved.power is PowerState.ON
    info = vcsim.vm_info(name)
    assert info["runtime"]["powerState"] == "poweredOn"
    host_name = vcsim.govc("ls", "-L", f"HostSystem:{info['runtime']['host']['value']}").strip()
    assert host_name.endswith(target)
    assert provider.vms.relocate(moved, Relocation(), ZONE).id.startswith("done:")
    _wait(provider, provider.vms.destroy(moved))


def test_relocate_into_a_pool_and_back_moves_the_vm_between_the_pools_lists(provider: VCenterProvider,
                                                                            vcsim: Vcsim) -> None:
    pool = provider.pools.ensure(PoolSpec(f"into-{uuid.uuid4().hex[:6]}", ZONE))
    vm = _create(provider, _spec(f"pooled-{uuid.uuid4().hex[:6]}"))
    assert vm.resource_pool == "Resources"
    _wait(provider, provider.vms.relocate(vm, Relocation(pool=True), replace(ZONE, resource_pool=pool.path)))
    inside = _moved(provider, vm, lambda m: m.resource_pool == pool.name)
    assert inside.power is PowerState.ON
    counted = provider.pools.observe(pool.ref)
    assert counted is not None and counted.vms == 1  # vCenter lists the VM in the pool it is in
    with pytest.raises(InUse):
        provider.pools.delete(pool.ref)
    _wait(provider, provider.vms.relocate(inside, Relocation(pool=True), ZONE))  # the cluster's root pool
    _moved(provider, vm, lambda m: m.resource_pool == "Resources")
    assert provider.pools.observe(pool.ref).vms == 0  # type: ignore[union-attr]
    provider.pools.delete(pool.ref)
    _wait(provider, provider.vms.destroy(inside))


def test_a_host_or_datastore_outside_the_zone_is_refused_before_anything_moves(provider: VCenterProvider) -> None:
    vm = _create(provider, _spec(f"stay-{uuid.uuid4().hex[:6]}"))
    with pytest.raises(OutsideZone, match="host DC0_H0 is not in the zone's DC0_C0"):  # a stand-alone host
        provider.vms.relocate(vm, Relocation(host="DC0_H0"), ZONE)
    assert provider.vms.find(vm.unique_id).host == vm.host  # type: ignore[union-attr]
    _wait(provider, provider.vms.destroy(vm))
