"""The VM lifecycle against the simulator, checked through GET /admin/state as well as through find()."""

from __future__ import annotations

import uuid

import pytest
from scvmm_world import World, wait_task

from herder.errors import Conflict
from herder.providers.scvmm import SCVMMProvider
from herder.providers.scvmm.vms import disk_file
from herder.providers.types import (
    DataDisk,
    ObservedVM,
    PowerState,
    SCVMMPlacement,
    TaskStatus,
    VMChange,
    VMSpec,
)

GIB = 1 << 30


def spec(uid: str | None = None, power: PowerState = PowerState.ON, **kwargs: object) -> VMSpec:
    values: dict[str, object] = {
        "uid": uid or str(uuid.uuid4()), "name": "web-1", "template": "ubuntu-22.04-tmpl", "cpu": 2,
        "memory_mib": 4096, "placement": SCVMMPlacement(host_group="All Hosts\\Zone-A"),
        "data_disks": (DataDisk("data", 10 * GIB),), "power": power, **kwargs,
    }
    return VMSpec(**values)  # type: ignore[arg-type]


def created(provider: SCVMMProvider, s: VMSpec) -> ObservedVM:
    result = wait_task(provider, provider.vms.create(s))
    assert result.status == TaskStatus.SUCCEEDED, result.error
    found = provider.vms.find(s.uid)
    assert found is not None
    return found


def test_create_then_find_matches_the_simulator_state(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    ref = provider.vms.create(s)
    assert ref.operation == "create" and not ref.id.startswith("done:")
    server = created(provider, s)
    assert (server.name, server.cpu, server.memory_mib, server.power, server.owner_uid) == (
        "web-1", 2, 4096, PowerState.ON, s.uid)
    assert not server.busy and not server.cpu_hot_add
    data = [d for d in server.disks if not d.is_os_disk]
    assert [(d.name, d.size_bytes) for d in data] == [("data", 10 * GIB)]
    assert sum(d.is_os_disk for d in server.disks) == 1
    state = world.vm(server.unique_id)
    assert state is not None
    assert (state["cpu_count"], state["memory_mb"], state["status"]) == (2, 4096, "Running")
    assert state["custom"] == {"HerderEcsUid": s.uid}
    assert state["host_group"] == "All Hosts\\Zone-A"
    assert sorted((d["lun"], d["size_mb"], d["file"]) for d in state["disks"])[1] == (
        1, 10240, disk_file("web-1", DataDisk("data", 10 * GIB)))
    assert provider.vms.find(s.uid, known_ref=server.ref) == server
    assert provider.vms.find_by_unique_id(server.unique_id) == server


def test_create_again_never_duplicates(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    first = provider.vms.create(s)
    again = provider.vms.create(s)  # as if the first TaskRef was lost in a crash
    assert again.id == first.id  # the running creation job is followed, not a second VM made
    server = created(provider, s)
    assert provider.vms.create(s).id == f"done:{server.ref}"
    assert len(world.vms()) == 1


def test_a_create_that_crashed_before_the_custom_property_is_found(world: World, provider: SCVMMProvider) -> None:
    uid = str(uuid.uuid4())
    # What a crash right after New-SCVirtualMachine leaves: the VM with its Description mark, no property.
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-A'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'web-1' -VMHostGroup $hg\n"
        f"$vm = New-SCVirtualMachine -Name 'web-1' -VMConfiguration $cfg -Description 'herder-ecs-uid={uid}' "
        "-RunAsynchronously\n[string]$vm.ID"
    )
    found = provider.vms.find(uid)
    assert found is not None and found.unique_id == vm_id and found.owner_uid == uid
    wait_task(provider, provider.vms.create(spec(uid)))
    assert [v["id"] for v in world.vms()] == [vm_id]
    assert (world.vm(vm_id) or {})["custom"] == {"HerderEcsUid": uid}  # healed by the second create


def test_two_vms_claiming_one_ecs_is_a_conflict(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    other = created(provider, spec(name="web-2"))
    provider.vms.adopt(other, s.uid)
    with pytest.raises(Conflict, match=server.ref):
        provider.vms.find(s.uid)


def test_reconfigure_and_disks(world: World, provider: SCVMMProvider) -> None:
    s = spec(power=PowerState.OFF)
    server = created(provider, s)
    assert server.power == PowerState.OFF
    data = next(d for d in server.disks if d.name == "data")
    change = VMChange(cpu=4, memory_mib=8192, grow_disks=((data.key, 20 * GIB),),
                          add_disks=(DataDisk("logs", 2 * GIB),))
    assert wait_task(provider, provider.vms.reconfigure(server, change)).status == TaskStatus.SUCCEEDED
    after = provider.vms.find(s.uid)
    assert after is not None and (after.cpu, after.memory_mib) == (4, 8192)
    assert sorted((d.name, d.size_bytes) for d in after.disks if not d.is_os_disk) == [
        ("data", 20 * GIB), ("logs", 2 * GIB)]
    state = world.vm(server.unique_id) or {}
    assert sorted(d["lun"] for d in state["disks"]) == [0, 1, 2]
    # Repeating the same change is safe: nothing is added twice.
    assert wait_task(provider, provider.vms.reconfigure(after, change)).status == TaskStatus.SUCCEEDED
    assert len((world.vm(server.unique_id) or {})["disks"]) == 3
    logs = next(d for d in after.disks if d.name == "logs")
    done = wait_task(provider, provider.vms.reconfigure(after, VMChange(remove_disks=(logs.key,))))
    assert done.status == TaskStatus.SUCCEEDED
    assert len((world.vm(server.unique_id) or {})["disks"]) == 2
    assert provider.vms.reconfigure(after, VMChange()).id.startswith("done:")


def test_power_transitions(world: World, provider: SCVMMProvider) -> None:
    s = spec(power=PowerState.OFF)
    server = created(provider, s)

    def power(to: PowerState) -> str:
        ref = provider.vms.set_power(server, to)
        assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
        return str((world.vm(server.unique_id) or {})["status"])

    assert power(PowerState.ON) == "Running"
    assert provider.vms.set_power(server, PowerState.ON).id.startswith("done:")
    assert power(PowerState.SUSPENDED) == "Paused"
    observed = provider.vms.find(s.uid)
    assert observed is not None and observed.power == PowerState.SUSPENDED
    assert power(PowerState.ON) == "Running"
    assert power(PowerState.OFF) == "PowerOff"
    assert provider.vms.set_power(server, PowerState.OFF).id.startswith("done:")


def test_graceful_power_off_asks_the_guest_os(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    ref = provider.vms.set_power(server, PowerState.OFF, graceful=True)
    assert ref.operation == "guest-shutdown"
    assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
    assert (world.vm(server.unique_id) or {})["status"] == "PowerOff"
    assert world.ps(f"(Get-SCJob -ID '{ref.id}').Name").strip() == "Shut down virtual machine"


def test_destroy_running_vm_then_again(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    ref = provider.vms.destroy(server)
    assert ref.operation == "destroy"
    assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
    assert world.vms() == []
    assert provider.vms.find(s.uid) is None
    assert provider.vms.destroy(server).id == "done:"


def test_adopt_and_release(world: World, provider: SCVMMProvider) -> None:
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'legacy' -VMHostGroup $hg\n"
        "$vm = New-SCVirtualMachine -Name 'legacy' -VMConfiguration $cfg\n[string]$vm.ID"
    )
    found = provider.vms.find_by_unique_id(vm_id)
    assert found is not None and found.owner_uid is None
    uid = str(uuid.uuid4())
    provider.vms.adopt(found, uid)
    adopted = provider.vms.find(uid)
    assert adopted is not None and adopted.unique_id == vm_id
    provider.vms.release(adopted)
    assert provider.vms.find(uid) is None
    assert (world.vm(vm_id) or {})["custom"] == {}
    # A VM herder created loses its Description mark too, so nothing claims it any more.
    s = spec(name="made")
    made = created(provider, s)
    provider.vms.release(made)
    assert provider.vms.find(s.uid) is None
    provider.vms.release(made)  # again: nothing left to unmark
    wait_task(provider, provider.vms.destroy(made))
    provider.vms.release(made)  # gone: a no-op


def test_busy_twice_then_success_makes_one_vm(world: World, provider: SCVMMProvider) -> None:
    world.admin("POST", "/admin/faults", {"cmdlet": "New-SCVirtualMachine", "error_id": 1600, "times": 2})
    s = spec()
    created(provider, s)
    assert len(world.vms()) == 1
    assert world.admin("GET", "/admin/faults")["cmdlet_errors"] == []


def test_failed_create_job_is_reported_and_destroy_cleans_up(world: World, provider: SCVMMProvider) -> None:
    world.admin("POST", "/admin/faults", {"job_fail": "New-SCVirtualMachine", "error_id": 2912})
    s = spec()
    result = wait_task(provider, provider.vms.create(s))
    assert result.status == TaskStatus.FAILED
    assert result.error is not None and "2912" in result.error
    half = provider.vms.find(s.uid)
    assert half is not None
    # Creating again follows the failed job instead of making a second VM.
    assert wait_task(provider, provider.vms.create(s)).status == TaskStatus.FAILED
    assert wait_task(provider, provider.vms.destroy(half)).status == TaskStatus.SUCCEEDED
    assert world.vms() == []


def test_unknown_job_is_unknown(provider: SCVMMProvider) -> None:
    from herder.providers.types import TaskRef

    assert provider.vms.task(TaskRef(str(uuid.uuid4()), "create")).status == TaskStatus.UNKNOWN


def test_locate_reads_the_host_group_a_vm_sits_in(world: World, provider: SCVMMProvider) -> None:
    """What adoption is checked against: the VM's HostGroupPath and host, as VMM placed it."""
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'placed' -VMHostGroup $hg\n"
        "$vm = New-SCVirtualMachine -Name 'placed' -VMConfiguration $cfg\n[string]$vm.ID"
    )
    found = provider.vms.find_by_unique_id(vm_id)
    assert found is not None
    where = provider.vms.locate(found)
    assert (where.host_group, where.host, where.cloud) == ("All Hosts\\Zone-B", "hv-b1.herder.test", None)
    assert where.host_group == (world.vm(vm_id) or {})["host_group"]
