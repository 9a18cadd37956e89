"""ResourcePools as VMM clouds against the simulator, read back with plain pywinrm (Get-SCCloud,
Get-SCCloudCapacity) and its admin state."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from scvmm_world import World, wait_task

from herder.errors import Conflict, InUse, Refused
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import Counts, PoolSpec, SCVMMPlacement, TaskStatus, VMSpec

ZONE_A = SCVMMPlacement(host_group="All Hosts\\Zone-A")


def capacity(world: World, cloud: str) -> dict[str, Any]:
    """What an administrator's console shows of the cloud: its host groups, description and capacity."""
    out = world.ps(
        f"$c = Get-SCCloud -Name '{cloud}'\n$cap = Get-SCCloudCapacity -Cloud $c\n"
        "ConvertTo-Json -Compress -InputObject @{ HostGroup = @($c.HostGroup); Description = [string]$c.Description; "
        "VMCount = $cap.VMCount; UseVMCountMaximum = $cap.UseVMCountMaximum; CPUCount = $cap.CPUCount; "
        "UseCPUCountMaximum = $cap.UseCPUCountMaximum; MemoryMB = $cap.MemoryMB; "
        "UseMemoryMBMaximum = $cap.UseMemoryMBMaximum; StorageGB = $cap.StorageGB; "
        "UseStorageGBMaximum = $cap.UseStorageGBMaximum }")
    found: dict[str, Any] = json.loads(out)
    return found


def test_a_pool_is_a_cloud_on_the_zone_host_group_with_its_limits(world: World, provider: SCVMMProvider) -> None:
    uid = str(uuid.uuid4())
    spec = PoolSpec("team-a", ZONE_A, limits=Counts(servers=2, vcpus=8, memory_mib=8192), uid=uid)
    made = provider.pools.ensure(spec)
    seen = capacity(world, "team-a")
    assert seen == {"HostGroup": ["Zone-A"], "Description": f"herder-resourcepool-uid={uid}",
                    "VMCount": 2, "UseVMCountMaximum": False, "CPUCount": 8, "UseCPUCountMaximum": False,
                    "MemoryMB": 8192, "UseMemoryMBMaximum": False, "StorageGB": 0, "UseStorageGBMaximum": True}
    assert (made.path, made.limits, made.vms) == ("team-a", spec.limits, 0)
    # Again, as after a crash without the recorded ID: the same cloud, nothing written.
    before = world.admin("GET", "/admin/stats")["cmdlets"]
    assert provider.pools.ensure(spec) == made
    after = world.admin("GET", "/admin/stats")["cmdlets"]
    assert after.get("Set-SCCloudCapacity") == before.get("Set-SCCloudCapacity")
    assert after.get("New-SCCloud") == before.get("New-SCCloud") == 1

    # Live: a new capacity on the same cloud.
    grown = provider.pools.ensure(PoolSpec("team-a", ZONE_A, limits=Counts(servers=5), uid=uid), made.ref)
    assert grown.ref == made.ref
    seen = capacity(world, "team-a")
    assert (seen["VMCount"], seen["UseVMCountMaximum"], seen["UseCPUCountMaximum"], seen["UseMemoryMBMaximum"]) == (
        5, False, True, True)


def test_usage_deletion_and_a_cloud_herder_did_not_make(world: World, provider: SCVMMProvider) -> None:
    with pytest.raises(Conflict, match="Cloud-Dev"):
        provider.pools.ensure(PoolSpec("Cloud-Dev", ZONE_A, uid=str(uuid.uuid4())))
    made = provider.pools.ensure(PoolSpec("team-b", ZONE_A, limits=Counts(memory_mib=4096), uid=str(uuid.uuid4())))
    server = VMSpec(uid=str(uuid.uuid4()), name="in-cloud", template="ubuntu-22.04-tmpl", cpu=2, memory_mib=1024,
                    placement=SCVMMPlacement(host_group="All Hosts\\Zone-A", cloud="team-b"))
    assert wait_task(provider, provider.vms.create(server)).status == TaskStatus.SUCCEEDED
    used = provider.pools.observe(made.ref)
    assert used is not None
    assert (used.vms, used.used.vcpus, used.used.memory_mib, used.memory_usage.available) == (1, 2, 1024, 3072)
    with pytest.raises(InUse, match="1 VM"):
        provider.pools.delete(made.ref)
    assert provider.pools.observe(made.ref) is not None
    vm = provider.vms.find(server.uid)
    assert vm is not None
    assert wait_task(provider, provider.vms.destroy(vm)).status == TaskStatus.SUCCEEDED
    provider.pools.delete(made.ref)
    assert provider.pools.observe(made.ref) is None
    assert not [c for c in world.admin("GET", "/admin/state")["clouds"] if c["name"] == "team-b"]
    provider.pools.delete(made.ref)  # gone: nothing to do


def test_a_create_the_cloud_has_no_room_for_is_refused_with_vmm_words_and_makes_nothing(
        world: World, provider: SCVMMProvider) -> None:
    made = provider.pools.ensure(PoolSpec("team-c", ZONE_A, limits=Counts(servers=1), uid=str(uuid.uuid4())))
    where = SCVMMPlacement(host_group="All Hosts\\Zone-A", cloud="team-c")
    first, second = (VMSpec(uid=str(uuid.uuid4()), name=name, template="ubuntu-22.04-tmpl", cpu=1, memory_mib=512,
                            placement=where) for name in ("first-in", "second-in"))
    assert wait_task(provider, provider.vms.create(first)).status == TaskStatus.SUCCEEDED
    with pytest.raises(Refused, match=r"virtual machine capacity of cloud team-c.*Error ID: 13252"):
        provider.vms.create(second)
    assert provider.vms.find(second.uid) is None
    assert world.ps("@(Get-SCVirtualMachine -Name 'second-in').Count") == "0"
    vm = provider.vms.find(first.uid)
    assert vm is not None
    assert wait_task(provider, provider.vms.destroy(vm)).status == TaskStatus.SUCCEEDED
    provider.pools.delete(made.ref)
