"""Private clouds over WinRM: their life cycle, capacity, usage, and admission of VMs against the capacity."""

from __future__ import annotations

from typing import Any

from conftest import HEAD, Sim, make_vm, ps_json, vm_in_state, vmm_error_id, wait_job

CAPACITY = ("$c = Get-SCCloudCapacity -Cloud (Get-SCCloud -Name 'CLOUD')\n"
            "[pscustomobject]@{ VMCount = $c.VMCount; UseVMCountMaximum = $c.UseVMCountMaximum; "
            "CPUCount = $c.CPUCount; UseCPUCountMaximum = $c.UseCPUCountMaximum; MemoryMB = $c.MemoryMB; "
            "UseMemoryMBMaximum = $c.UseMemoryMBMaximum; StorageGB = $c.StorageGB; "
            "UseStorageGBMaximum = $c.UseStorageGBMaximum } | ConvertTo-Json -Compress")
USAGE = ("$u = Get-SCCloudUsage -Cloud (Get-SCCloud -Name 'CLOUD')\n"
         "[pscustomobject]@{ VMs = $u.VMUsageCount; CPUs = $u.CPUUsageCount; MemoryMB = $u.MemoryUsageMB; "
         "StorageGB = $u.StorageUsageGB; Custom = $u.CustomQuotaUsageCount } | ConvertTo-Json -Compress")


def _capacity(sim: Sim, cloud: str) -> dict[str, Any]:
    return dict(ps_json(sim, HEAD + CAPACITY.replace("CLOUD", cloud)))


def _usage(sim: Sim, cloud: str) -> dict[str, Any]:
    return dict(ps_json(sim, HEAD + USAGE.replace("CLOUD", cloud)))


def _cloud(sim: Sim, name: str) -> dict[str, Any] | None:
    return next((c for c in sim.admin("GET", "/admin/state")["clouds"] if c["name"] == name), None)


def _limit(cloud: str, **limits: int) -> str:
    args = " ".join(f"-{dim} {value} -Use{dim}Maximum $false" for dim, value in limits.items())
    return (f"$null = Set-SCCloudCapacity -CloudCapacity (Get-SCCloudCapacity -Cloud (Get-SCCloud -Name '{cloud}')) "
            f"{args}\n")


def test_cloud_life_cycle(sim: Sim) -> None:
    made = ps_json(sim, HEAD + "$a = Get-SCVMHostGroup -Name 'Zone-A'\n$b = Get-SCVMHostGroup -Name 'Zone-B'\n"
                   "$c = New-SCCloud -Name 'Lab' -VMHostGroup @($a, $b) -Description 'for tests'\n"
                   "[pscustomobject]@{ Name = $c.Name; Description = $c.Description; HostGroup = @($c.HostGroup) } | "
                   "ConvertTo-Json -Compress")
    assert made == {"Name": "Lab", "Description": "for tests", "HostGroup": ["Zone-A", "Zone-B"]}
    assert vmm_error_id(sim, "New-SCCloud -Name 'lab' -VMHostGroup (Get-SCVMHostGroup -Name 'Zone-A')") == 13253
    job = ps_json(sim, HEAD + "$c = Get-SCCloud -Name 'Lab'\n"
                  "$null = Set-SCCloud -Cloud $c -Name 'Lab2' -Description 'renamed' "
                  "-RemoveVMHostGroup @(Get-SCVMHostGroup -Name 'Zone-A') -RunAsynchronously\n"
                  "ConvertTo-Json -InputObject ([string](Get-SCJob -Running | Select-Object -First 1).ID)")
    assert wait_job(sim, job)["Status"] == "Completed"
    assert (_cloud(sim, "Lab2") or {})["host_groups"] == ["All Hosts\\Zone-B"]
    assert (_cloud(sim, "Lab2") or {})["description"] == "renamed"
    ps_json(sim, HEAD + "Get-SCCloud -Name 'Lab2' | Remove-SCCloud\n'{}'")
    assert _cloud(sim, "Lab2") is None
    gone = sim.ps(HEAD + "(Get-SCCloud -Name 'Lab2') -eq $null")
    assert gone.std_out == b"True\r\n"


def test_capacity_is_unlimited_until_limited(sim: Sim) -> None:
    assert _capacity(sim, "Cloud-Dev") == {
        "VMCount": 0, "UseVMCountMaximum": True, "CPUCount": 0, "UseCPUCountMaximum": True, "MemoryMB": 0,
        "UseMemoryMBMaximum": True, "StorageGB": 0, "UseStorageGBMaximum": True}
    # A value alone does not limit: its Use...Maximum switch must be $false too.
    ps_json(sim, HEAD + "Get-SCCloudCapacity -Cloud (Get-SCCloud -Name 'Cloud-Dev') | Set-SCCloudCapacity "
            "-VMCount 1 -MemoryMB 4096 -UseMemoryMBMaximum $false | Out-Null\n'{}'")
    assert _capacity(sim, "Cloud-Dev") == {
        "VMCount": 1, "UseVMCountMaximum": True, "CPUCount": 0, "UseCPUCountMaximum": True, "MemoryMB": 4096,
        "UseMemoryMBMaximum": False, "StorageGB": 0, "UseStorageGBMaximum": True}
    for _ in range(2):
        make_vm(sim, f"dev-{_}", cloud="Cloud-Dev", memory_mb=2048)
    assert _usage(sim, "Cloud-Dev") == {
        "VMs": 2, "CPUs": 4, "MemoryMB": 4096, "StorageGB": 40, "Custom": 0}
    assert vmm_error_id(sim, "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                        "New-SCVirtualMachine -Name 'dev-3' -VMTemplate $t -Cloud (Get-SCCloud -Name 'Cloud-Dev') "
                        "-MemoryMB 512") == 13252
    assert [v["name"] for v in sim.admin("GET", "/admin/state")["vms"]] == ["dev-0", "dev-1"]


def test_each_dimension_admits_creation_resize_and_disks(sim: Sim) -> None:
    ps_json(sim, HEAD + _limit("Cloud-Gold", VMCount=2, CPUCount=6, MemoryMB=6144, StorageGB=45) + "'{}'")
    vm_id = make_vm(sim, "gold-1", cloud="Cloud-Gold", cpu=2, memory_mb=2048)
    get = HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"
    assert vmm_error_id(sim, get + "Set-SCVirtualMachine -VM $vm -CPUCount 7") == 13252
    assert vmm_error_id(sim, get + "Set-SCVirtualMachine -VM $vm -MemoryMB 8192") == 13252
    ps_json(sim, get + "$vm = Set-SCVirtualMachine -VM $vm -CPUCount 6 -MemoryMB 6144\n'{}'")  # up to the limit
    assert ((vm_in_state(sim, vm_id) or {})["cpu_count"], (vm_in_state(sim, vm_id) or {})["memory_mb"]) == (6, 6144)
    r = sim.ps(get + "New-SCVirtualDiskDrive -VM $vm -SCSI -Bus 0 -LUN 1 -Dynamic -VirtualHardDiskSizeMB 30720 "
               "-FileName 'big.vhdx'")
    assert r.status_code == 1 and b"(Error ID: 13252)" in r.std_err and b"storage (GB)" in r.std_err
    ps_json(sim, get + "$null = New-SCVirtualDiskDrive -VM $vm -SCSI -Bus 0 -LUN 1 -Dynamic "
            "-VirtualHardDiskSizeMB 25600 -FileName 'fits.vhdx'\n'{}'")
    assert vmm_error_id(sim, get + "$d = @($vm.VirtualDiskDrives | Where-Object { $_.Lun -eq 1 })[0]\n"
                        "Expand-SCVirtualDiskDrive -VirtualDiskDrive $d -VirtualHardDiskSizeGB 26") == 13252
    ps_json(sim, get + "$vm = Set-SCVirtualMachine -VM $vm -CPUCount 1 -MemoryMB 1024\n'{}'")
    assert vmm_error_id(sim, "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                        "New-SCVirtualMachine -Name 'gold-2' -VMTemplate $t -Cloud (Get-SCCloud -Name 'Cloud-Gold')"
                        ) == 13252  # storage: 45 GB cloud, 45 GB used
    ps_json(sim, HEAD + "$c = Get-SCCloudCapacity -Cloud (Get-SCCloud -Name 'Cloud-Gold')\n"
            "$null = Set-SCCloudCapacity -CloudCapacity $c -UseStorageGBMaximum $true\n'{}'")
    make_vm(sim, "gold-2", cloud="Cloud-Gold", cpu=1, memory_mb=1024)
    vm = ps_json(sim, HEAD + "$vm = Get-SCVirtualMachine -Name 'gold-2'\nConvertTo-Json -InputObject $vm.Cloud.Name")
    assert vm == "Cloud-Gold"
    assert vmm_error_id(sim, "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                        "New-SCVirtualMachine -Name 'gold-3' -VMTemplate $t -Cloud (Get-SCCloud -Name 'Cloud-Gold') "
                        "-CPUCount 1 -MemoryMB 512") == 13252  # the VM count


def test_a_vm_moves_between_clouds_within_their_capacity_and_host_groups(sim: Sim) -> None:
    ps_json(sim, HEAD + "$null = New-SCCloud -Name 'Small' -VMHostGroup (Get-SCVMHostGroup -Name 'Zone-B')\n"
            + _limit("Small", CPUCount=2) + "'{}'")
    in_a = make_vm(sim, "zone-a-vm", host_group="Zone-A")
    in_b = make_vm(sim, "zone-b-vm", host_group="Zone-B", cpu=4)
    move = "Set-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{}') -Cloud (Get-SCCloud -Name '{}') | Out-Null\n"
    assert vmm_error_id(sim, move.format(in_a, "Small")) == 23760  # Zone-A is not in the cloud
    assert vmm_error_id(sim, move.format(in_b, "Small")) == 13252  # 4 vCPUs into a cloud of 2
    ps_json(sim, HEAD + f"$vm = Set-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{in_b}') -CPUCount 2\n"
            + move.format(in_b, "Small") + "'{}'")
    cloud_of = HEAD + f"ConvertTo-Json -InputObject (Get-SCVirtualMachine -ID '{in_b}').Cloud.Name"
    assert ps_json(sim, cloud_of) == "Small"
    assert _usage(sim, "Small")["CPUs"] == 2
    ps_json(sim, HEAD + move.format(in_b, "Cloud-Gold") + "'{}'")  # Cloud-Gold has Zone-B too
    assert ps_json(sim, cloud_of) == "Cloud-Gold"
    assert (_usage(sim, "Small")["VMs"], _usage(sim, "Cloud-Gold")["VMs"]) == (0, 1)


def test_a_cloud_with_vms_is_not_removed_nor_loses_their_host_group(sim: Sim) -> None:
    vm_id = make_vm(sim, "tenant", cloud="Cloud-Dev")
    assert vmm_error_id(sim, "Remove-SCCloud -Cloud (Get-SCCloud -Name 'Cloud-Dev')") == 13254
    assert vmm_error_id(sim, "Set-SCCloud -Cloud (Get-SCCloud -Name 'Cloud-Dev') "
                        "-RemoveVMHostGroup @(Get-SCVMHostGroup -Name 'Zone-B')") == 13254
    ps_json(sim, HEAD + f"Remove-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm_id}') | Out-Null\n"
            "Remove-SCCloud -Cloud (Get-SCCloud -Name 'Cloud-Dev') | Out-Null\n'{}'")
    assert _cloud(sim, "Cloud-Dev") is None


def test_capacity_set_in_a_job_group_applies_to_the_cloud_that_ends_it(sim: Sim) -> None:
    ps_json(sim, HEAD + "$g = [guid]::NewGuid()\n"
            "Set-SCCloudCapacity -JobGroup $g -VMCount 5 -UseVMCountMaximum $false -MemoryMB 8192 "
            "-UseMemoryMBMaximum $false\nSet-SCCloud -JobGroup $g -Description 'queued'\n"
            "$null = New-SCCloud -JobGroup $g -Name 'Grouped' -VMHostGroup (Get-SCVMHostGroup -Name 'Zone-A')\n"
            "$h = [guid]::NewGuid()\nSet-SCCloudCapacity -JobGroup $h -CPUCount 8 -UseCPUCountMaximum $false\n"
            "$null = Set-SCCloud -Cloud (Get-SCCloud -Name 'Cloud-Dev') -JobGroup $h\n'{}'")
    grouped = _capacity(sim, "Grouped")
    assert (grouped["VMCount"], grouped["UseVMCountMaximum"], grouped["MemoryMB"]) == (5, False, 8192)
    assert (_cloud(sim, "Grouped") or {})["description"] == "queued"
    dev = _capacity(sim, "Cloud-Dev")
    assert (dev["CPUCount"], dev["UseCPUCountMaximum"], dev["VMCount"]) == (8, False, 0)
    assert sim.admin("GET", "/admin/state")["cloud_job_groups"] == {}  # each group was used up


def test_cloud_cmdlets_refuse_what_their_parameter_sets_refuse(sim: Sim) -> None:
    r = sim.ps(HEAD + "Set-SCCloudCapacity -VMCount 3")
    assert r.status_code == 1 and b"Parameter set cannot be resolved" in r.std_err
    r = sim.ps(HEAD + "Set-SCCloudCapacity -CloudCapacity (Get-SCCloudCapacity -Cloud (Get-SCCloud -Name 'Cloud-Dev')) "
               "-VMCount -1")
    assert r.status_code == 1 and b"too large or too small for a UInt32" in r.std_err
    r = sim.ps(HEAD + "New-SCCloud -Name 'NoGroups'")
    assert r.status_code == 1 and b"missing mandatory parameters: VMHostGroup" in r.std_err
    r = sim.ps(HEAD + "Get-SCCloudUsage")
    assert r.status_code == 1 and b"missing mandatory parameters: Cloud" in r.std_err
