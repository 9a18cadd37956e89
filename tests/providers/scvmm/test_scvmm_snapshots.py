"""Checkpoints through the provider against the simulator, checked through GET /admin/state: the checkpoint type
follows `quiesce`, a repeated take finds the first, the hierarchy and the time come back, memory is refused,
revert and remove are jobs, and the inventory lists a VM's checkpoints."""

from __future__ import annotations

import uuid

import pytest
from scvmm_world import World, wait_task

from herder.errors import NotFound, NotSupported
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import ObservedVM, PowerState, SCVMMPlacement, SnapshotSpec, TaskStatus, VMSpec


def running_vm(provider: SCVMMProvider) -> ObservedVM:
    spec = VMSpec(uid=str(uuid.uuid4()), name="snap-1", template="ubuntu-22.04-tmpl", cpu=2, memory_mib=2048,
                  placement=SCVMMPlacement(host_group="All Hosts\\Zone-A"), power=PowerState.ON)
    assert wait_task(provider, provider.vms.create(spec)).status is TaskStatus.SUCCEEDED
    found = provider.vms.find(spec.uid)
    assert found is not None
    return found


def take(provider: SCVMMProvider, vm: ObservedVM, **fields: object) -> SnapshotSpec:
    spec = SnapshotSpec(**({"uid": str(uuid.uuid4()), "label": "before"} | fields))  # type: ignore[arg-type]
    task = provider.snapshots.create(vm, spec)
    assert task.operation == "snapshot" and not task.finished
    assert wait_task(provider, task).status is TaskStatus.SUCCEEDED
    return spec


def test_quiesce_takes_a_production_checkpoint_and_a_repeat_finds_it(world: World, provider: SCVMMProvider) -> None:
    vm = running_vm(provider)
    spec = take(provider, vm, quiesce=True, description="before the upgrade")
    state = world.vm(vm.ref)
    assert state is not None and state["checkpoint_type"] == "ProductionOnly"
    (checkpoint,) = state["checkpoints"]
    assert checkpoint["type"] == "Production"
    assert checkpoint["name"] == f"before-{spec.uid}"
    assert checkpoint["description"] == f"herder-snapshot-uid={spec.uid} before the upgrade"
    again = provider.snapshots.create(vm, spec)
    assert again.finished and again.id == f"done:{checkpoint['id']}"
    found = provider.snapshots.find(vm, spec.uid)
    assert found is not None and found.unique_id == checkpoint["id"] and found.owner_uid == spec.uid
    assert found.created.tzinfo is not None and found.parent_id is None


def test_standard_checkpoints_nest_and_the_inventory_lists_them(world: World, provider: SCVMMProvider) -> None:
    vm = running_vm(provider)
    first = take(provider, vm)
    second = take(provider, vm)
    state = world.vm(vm.ref)
    assert state is not None and state["checkpoint_type"] == "Standard"
    found = provider.snapshots.find(vm, second.uid)
    parent = provider.snapshots.find(vm, first.uid)
    assert found is not None and parent is not None
    assert (found.parent_id, found.parent_owner_uid) == (parent.unique_id, first.uid)
    listed = provider.inventory.refresh(vm.ref)
    assert listed is not None and listed.snapshots == {found.unique_id, parent.unique_id}


def test_memory_is_refused_before_any_call(world: World, provider: SCVMMProvider) -> None:
    vm = running_vm(provider)
    before = world.requests_made()
    with pytest.raises(NotSupported, match="memory"):
        provider.snapshots.create(vm, SnapshotSpec(uid=str(uuid.uuid4()), label="m", memory=True))
    assert world.requests_made() == before


def test_revert_brings_back_the_cpus_and_remove_merges(world: World, provider: SCVMMProvider) -> None:
    vm = running_vm(provider)
    spec = take(provider, vm)
    found = provider.snapshots.find(vm, spec.uid)
    assert found is not None
    world.ps(f"$null = Stop-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm.ref}') -Force")
    world.ps(f"$null = Set-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm.ref}') -CPUCount 4")
    assert wait_task(provider, provider.snapshots.revert(vm, found.unique_id)).status is TaskStatus.SUCCEEDED
    state = world.vm(vm.ref)
    assert state is not None and state["cpu_count"] == 2 and state["status"] == "Running"  # standard: as taken
    assert wait_task(provider, provider.snapshots.remove(vm, found.unique_id)).status is TaskStatus.SUCCEEDED
    assert provider.snapshots.find(vm, spec.uid) is None
    assert provider.snapshots.remove(vm, found.unique_id).finished, "gone already: nothing to do"
    with pytest.raises(NotFound):
        provider.snapshots.revert(vm, found.unique_id)
