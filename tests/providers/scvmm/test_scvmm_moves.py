"""Moving VMs on the simulator: live migration, storage migration and a cloud change followed as VMM jobs; targets
outside the zone refused before anything moves; what VMM refuses raised with its own words. Checked with the
simulator's admin state and plain pywinrm."""

from __future__ import annotations

import uuid

import pytest
from scvmm_world import World, wait_task

from herder.errors import NotSupported, OutsideZone, Refused
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import (
    Counts,
    ObservedVM,
    PoolSpec,
    PowerState,
    Relocation,
    SCVMMPlacement,
    TaskStatus,
    VMSpec,
)

ZONE_A = SCVMMPlacement(host_group="All Hosts\\Zone-A", vm_path="D:\\VMs")
HOSTS_A = {"hv-a1.herder.test", "hv-a2.herder.test"}


def running(provider: SCVMMProvider, where: SCVMMPlacement = ZONE_A, memory_mib: int = 2048) -> ObservedVM:
    spec = VMSpec(uid=str(uuid.uuid4()), name=f"mover-{uuid.uuid4().hex[:6]}", template="ubuntu-22.04-tmpl", cpu=2,
                  memory_mib=memory_mib, placement=where)
    assert wait_task(provider, provider.vms.create(spec)).status == TaskStatus.SUCCEEDED
    vm = provider.vms.find(spec.uid)
    assert vm is not None and vm.power is PowerState.ON
    return vm


def moved(provider: SCVMMProvider, vm: ObservedVM, to: Relocation, zone: SCVMMPlacement = ZONE_A) -> ObservedVM:
    task = provider.vms.relocate(vm, to, zone)
    assert task.operation == "relocate" and not task.finished
    result = wait_task(provider, task)
    assert result.status == TaskStatus.SUCCEEDED, result.error
    after = provider.inventory.refresh(vm.ref)
    assert after is not None
    return after


def test_live_and_storage_migration_within_the_zone(world: World, provider: SCVMMProvider) -> None:
    vm = running(provider)
    assert vm.host in HOSTS_A and vm.datastore == "D:\\VMs" and vm.resource_pool is None
    target = next(iter(HOSTS_A - {vm.host or ""}))
    live = moved(provider, vm, Relocation(host=target.split(".")[0]))
    assert (live.host, live.power, live.datastore) == (target, PowerState.ON, "D:\\VMs")
    state = world.vm(vm.unique_id)
    assert state is not None and state["status"] == "Running"
    assert world.ps(f"(Get-SCVirtualMachine -ID '{vm.unique_id}').HostName") == target

    fast = "C:\\ClusterStorage\\Volume1\\fast"
    stored = moved(provider, live, Relocation(storage=fast))
    assert (stored.datastore, stored.host, stored.power) == (fast, target, PowerState.ON)
    assert world.ps(f"(Get-SCVirtualMachine -ID '{vm.unique_id}').Location") == f"{fast}\\{vm.name}"
    jobs = [j["cmdlet"] for j in world.admin("GET", "/admin/state")["jobs"] if j["target_name"] == vm.name]
    assert jobs.count("Move-SCVirtualMachine") == 2


def test_targets_outside_the_zone_are_refused_before_anything_moves(world: World, provider: SCVMMProvider) -> None:
    vm = running(provider)
    before = world.admin("GET", "/admin/stats")["cmdlets"].get("Move-SCVirtualMachine", 0)
    with pytest.raises(OutsideZone, match="host hv-b1 is not in the host group"):
        provider.vms.relocate(vm, Relocation(host="hv-b1"), ZONE_A)
    with pytest.raises(OutsideZone, match="storage path E:\\\\Elsewhere is not under"):
        provider.vms.relocate(vm, Relocation(storage="E:\\Elsewhere"), ZONE_A)
    assert world.admin("GET", "/admin/stats")["cmdlets"].get("Move-SCVirtualMachine", 0) == before
    # A create pinned outside the zone is refused the same way, and nothing is made.
    with pytest.raises(OutsideZone, match="hv-b2"):
        provider.vms.create(VMSpec(uid=str(uuid.uuid4()), name="nowhere", template="ubuntu-22.04-tmpl", cpu=1,
                                   memory_mib=1024, placement=SCVMMPlacement(host_group="All Hosts\\Zone-A",
                                                                             host="hv-b2")))
    assert [v["name"] for v in world.vms()] == [vm.name]


def test_a_migration_vmm_refuses_raises_refused_with_its_words(world: World, provider: SCVMMProvider) -> None:
    vm = running(provider)
    target = next(iter(HOSTS_A - {vm.host or ""}))
    world.ps(f"$null = Disable-SCVMHost -VMHost (Get-SCVMHost -ComputerName '{target}')")
    with pytest.raises(Refused, match=r"maintenance mode.*Error ID: 13260"):
        provider.vms.relocate(vm, Relocation(host=target), ZONE_A)
    world.ps(f"$null = Enable-SCVMHost -VMHost (Get-SCVMHost -ComputerName '{target}')")
    assert moved(provider, vm, Relocation(host=target)).host == target


def test_a_cloud_change_is_a_job_and_admitted_against_the_cloud(world: World, provider: SCVMMProvider) -> None:
    tight = provider.pools.ensure(PoolSpec("tight", ZONE_A, limits=Counts(memory_mib=3072), uid="u-tight"))
    vm, big = running(provider), running(provider, memory_mib=4096)
    into = SCVMMPlacement(host_group="All Hosts\\Zone-A", cloud="tight", vm_path="D:\\VMs")
    inside = moved(provider, vm, Relocation(pool=True), into)
    assert (inside.resource_pool, inside.power) == ("tight", PowerState.ON)
    assert world.ps(f"(Get-SCVirtualMachine -ID '{vm.unique_id}').Cloud.Name") == "tight"
    used = provider.pools.observe(tight.ref)
    assert used is not None and used.used.memory_mib == 2048
    with pytest.raises(Refused, match=r"memory \(MB\) capacity of cloud tight.*Error ID: 13252"):
        provider.vms.relocate(big, Relocation(pool=True), into)
    with pytest.raises(NotSupported, match="does not take one out of its cloud"):
        provider.vms.relocate(inside, Relocation(pool=True), ZONE_A)
