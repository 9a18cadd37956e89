"""VM checkpoints over WinRM: jobs, types, the checkpoint tree, what a restore brings back, and refusals."""

from __future__ import annotations

from typing import Any

from conftest import HEAD, Sim, make_vm, ps_json, vm_in_state, vmm_error_id, wait_job

TREE = ("ConvertTo-Json -Compress -InputObject @(Get-SCVMCheckpoint -VM $vm | Sort-Object AddedTime | "
        "ForEach-Object { [pscustomobject]@{ Name = $_.Name; Id = [string]$_.CheckpointID; "
        "Parent = [string]$_.ParentCheckpointID } })")


def _get(vm_id: str) -> str:
    return HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"


def _checkpoint(name: str) -> str:
    return f"(Get-SCVMCheckpoint -VM $vm | Where-Object {{ $_.Name -eq '{name}' }})"


def _tree(sim: Sim, vm_id: str) -> dict[str, str | None]:
    """Each checkpoint's parent, by name."""
    rows: list[dict[str, Any]] = ps_json(sim, _get(vm_id) + TREE)
    names = {r["Id"]: r["Name"] for r in rows}
    return {r["Name"]: names.get(r["Parent"]) for r in rows}


def test_checkpoint_jobs_run_asynchronously_and_are_followed_with_get_scjob(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-async")
    made = ps_json(sim, _get(vm_id) + "$cp = New-SCVMCheckpoint -VM $vm -Name 'first' -Description 'd' "
                   "-RunAsynchronously\n$vm = Get-SCVirtualMachine -ID $vm.ID\n"
                   "[pscustomobject]@{ Name = $cp.Name; Job = [string]$vm.MostRecentTask.ID; "
                   "Cmdlet = $vm.MostRecentTask.CmdletName } | ConvertTo-Json -Compress")
    assert (made["Name"], made["Cmdlet"]) == ("first", "New-SCVMCheckpoint")
    assert wait_job(sim, made["Job"])["Status"] == "Completed"
    shown = ps_json(sim, _get(vm_id) + "$cp = Get-SCVMCheckpoint -VM $vm -MostRecent\n"
                    "[pscustomobject]@{ Name = $cp.Name; Description = $cp.Description; VM = $cp.VM; "
                    "Added = $cp.AddedTime -ne $null; Enabled = $cp.Enabled; Parent = $cp.ParentCheckpointID; "
                    "Id = [string]$cp.CheckpointID } | ConvertTo-Json -Compress")
    assert shown["Name"] == "first" and shown["Description"] == "d" and shown["VM"] == "cp-async"
    assert shown["Added"] is True and shown["Enabled"] is True and shown["Parent"] is None
    by_id = ps_json(sim, HEAD + "ConvertTo-Json -Compress -InputObject @(Get-SCVMCheckpoint | "
                    "ForEach-Object { [string]$_.CheckpointID })")
    assert by_id == [shown["Id"]]

    for script in (f"$j = Set-SCVMCheckpoint -VMCheckpoint {_checkpoint('first')} -Name 'renamed' -RunAsynchronously",
                   f"$j = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('renamed')} -RunAsynchronously",
                   f"$j = Remove-SCVMCheckpoint -VMCheckpoint {_checkpoint('renamed')} -RunAsynchronously"):
        job = ps_json(sim, _get(vm_id) + script + "\nConvertTo-Json -InputObject "
                      "([string](Get-SCVirtualMachine -ID $vm.ID).MostRecentTask.ID)")
        assert wait_job(sim, job)["Status"] == "Completed"
    assert (vm_in_state(sim, vm_id) or {})["checkpoints"] == []


def test_checkpoint_cmdlets_take_the_documented_parameters(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-params")
    r = sim.ps(_get(vm_id) + "New-SCVMCheckpoint -VM $vm -JobGroup ([guid]::NewGuid())")
    assert r.status_code == 1 and b"A parameter cannot be found that matches parameter name 'JobGroup'" in r.std_err
    ps_json(sim, _get(vm_id) + "$null = New-SCVMCheckpoint $vm\n$null = $vm | New-SCVMCheckpoint -Name 'piped'\n'{}'")
    names = [c["name"] for c in (vm_in_state(sim, vm_id) or {})["checkpoints"]]
    assert names[0].startswith("cp-params - (") and names[1] == "piped"  # Hyper-V's default name


def test_the_tree_follows_creation_restore_and_merge(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-tree")
    new = "$null = New-SCVMCheckpoint -VM $vm -Name '{}'\n"
    ps_json(sim, _get(vm_id) + new.format("A") + new.format("B") + "'{}'")
    assert _tree(sim, vm_id) == {"A": None, "B": "A"}
    # Restoring A makes it the parent of what comes next: C branches off A, beside B.
    ps_json(sim, _get(vm_id) + f"$null = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('A')}\n"
            + new.format("C") + new.format("D") + "'{}'")
    assert _tree(sim, vm_id) == {"A": None, "B": "A", "C": "A", "D": "C"}
    # Removing C merges it: D survives under A; removing the root A leaves B and D parentless.
    ps_json(sim, _get(vm_id) + f"Remove-SCVMCheckpoint -VMCheckpoint {_checkpoint('C')}\n'{{}}'")
    assert _tree(sim, vm_id) == {"A": None, "B": "A", "D": "A"}
    ps_json(sim, _get(vm_id) + f"Remove-SCVMCheckpoint -VMCheckpoint {_checkpoint('A')}\n" + new.format("E") + "'{}'")
    assert _tree(sim, vm_id) == {"B": None, "D": None, "E": "D"}  # D was the current checkpoint


def test_a_standard_checkpoint_restores_hardware_disks_and_power(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-std", cpu=2, memory_mb=2048)
    ps_json(sim, _get(vm_id) + "$vm = Set-SCVirtualMachine -VM $vm -CheckpointType Standard\n"
            "$vm = Start-SCVirtualMachine -VM $vm\n$null = New-SCVMCheckpoint -VM $vm -Name 'running'\n"
            "$vm = Stop-SCVirtualMachine -VM $vm -Force\n"
            "$vm = Set-SCVirtualMachine -VM $vm -CPUCount 6 -MemoryMB 8192\n"
            "$null = New-SCVirtualDiskDrive -VM $vm -SCSI -Bus 0 -LUN 1 -Dynamic -VirtualHardDiskSizeMB 1024 "
            "-FileName 'extra.vhdx'\n"
            "$d = @($vm.VirtualDiskDrives | Where-Object { $_.Lun -eq 0 })[0]\n"
            "$null = Expand-SCVirtualDiskDrive -VirtualDiskDrive $d -VirtualHardDiskSizeGB 40\n'{}'")
    changed = vm_in_state(sim, vm_id) or {}
    assert (changed["cpu_count"], changed["memory_mb"], len(changed["disks"])) == (6, 8192, 2)
    ps_json(sim, _get(vm_id) + f"$null = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('running')}\n'{{}}'")
    vm = vm_in_state(sim, vm_id) or {}
    assert (vm["cpu_count"], vm["memory_mb"], vm["status"]) == (2, 2048, "Running")
    assert [(d["lun"], d["size_mb"]) for d in vm["disks"]] == [(0, 20480)]
    ps_json(sim, _get(vm_id) + "$vm = Stop-SCVirtualMachine -VM $vm -Force\n"  # the restored disks are the VM's own
            "$d = @($vm.VirtualDiskDrives)[0]\n"
            "$null = Expand-SCVirtualDiskDrive -VirtualDiskDrive $d -VirtualHardDiskSizeGB 30\n"
            f"$null = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('running')}\n'{{}}'")
    assert [d["size_mb"] for d in (vm_in_state(sim, vm_id) or {})["disks"]] == [20480]
    seen = ps_json(sim, _get(vm_id) + "[pscustomobject]@{ Type = [string]$vm.CheckpointType; "
                   "Status = [string]$vm.Status; Disks = @($vm.VirtualDiskDrives).Count } | ConvertTo-Json -Compress")
    assert seen == {"Type": "Standard", "Status": "Running", "Disks": 1}


def test_a_production_checkpoint_restores_to_off_and_falls_back_to_standard_when_saved(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-prod", start=True)
    ps_json(sim, _get(vm_id) + "$null = New-SCVMCheckpoint -VM $vm -Name 'prod'\n"
            "$vm = Save-SCVirtualMachine -VM $vm\n$null = New-SCVMCheckpoint -VM $vm -Name 'saved'\n'{}'")
    types = {c["name"]: c["type"] for c in (vm_in_state(sim, vm_id) or {})["checkpoints"]}
    assert types == {"prod": "Production", "saved": "Standard"}  # a saved guest cannot take a production one
    ps_json(sim, _get(vm_id) + f"$null = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('prod')}\n'{{}}'")
    assert (vm_in_state(sim, vm_id) or {})["status"] == "PowerOff"  # no memory state to return to
    ps_json(sim, _get(vm_id) + f"$null = Restore-SCVMCheckpoint -VMCheckpoint {_checkpoint('saved')}\n'{{}}'")
    assert (vm_in_state(sim, vm_id) or {})["status"] == "Saved"


def test_checkpoint_types_that_refuse(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-refuse", start=True)
    ps_json(sim, _get(vm_id) + "$vm = Set-SCVirtualMachine -VM $vm -CheckpointType Disabled\n'{}'")
    assert vmm_error_id(sim, _get(vm_id) + "New-SCVMCheckpoint -VM $vm") == 13250
    ps_json(sim, _get(vm_id) + "$vm = Set-SCVirtualMachine -VM $vm -CheckpointType ProductionOnly\n"
            "$null = New-SCVMCheckpoint -VM $vm -Name 'ok'\n$vm = Suspend-SCVirtualMachine -VM $vm\n'{}'")
    assert vmm_error_id(sim, _get(vm_id) + "New-SCVMCheckpoint -VM $vm") == 13251  # paused: no production one
    r = sim.ps(_get(vm_id) + "Set-SCVirtualMachine -VM $vm -CheckpointType Sometimes")
    assert r.status_code == 1 and b"Disabled, Production, ProductionOnly, Standard" in r.std_err


def test_states_that_forbid_a_checkpoint(sim: Sim, slow_sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"job_fail": "New-SCVirtualMachine", "times": 1})
    r = sim.ps(HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
               "$vm = New-SCVirtualMachine -Name 'failed' -VMTemplate $t -VMHostGroup $hg")
    assert r.status_code == 1
    failed = next(v for v in sim.admin("GET", "/admin/state")["vms"] if v["name"] == "failed")
    assert failed["status"] == "CreationFailed"
    assert vmm_error_id(sim, _get(failed["id"]) + "New-SCVMCheckpoint -VM $vm") == 1730

    creating = ps_json(slow_sim, HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                       "$hg = Get-SCVMHostGroup -Name 'Zone-B'\n$vm = New-SCVirtualMachine -Name 'new' -VMTemplate $t "
                       "-VMHostGroup $hg -RunAsynchronously\nConvertTo-Json -InputObject ([string]$vm.ID)")
    assert vmm_error_id(slow_sim, _get(creating) + "New-SCVMCheckpoint -VM $vm") == 1600  # under creation


def test_a_removed_vm_takes_its_checkpoints_with_it(sim: Sim) -> None:
    vm_id = make_vm(sim, "cp-gone")
    keep = make_vm(sim, "cp-kept")
    ps_json(sim, _get(keep) + "$null = New-SCVMCheckpoint -VM $vm -Name 'kept'\n'{}'")
    ps_json(sim, _get(vm_id) + "$null = New-SCVMCheckpoint -VM $vm -Name 'one'\n"
            "$null = New-SCVMCheckpoint -VM $vm -Name 'two'\n'{}'")
    r = sim.ps(_get(vm_id) + f"$cp = {_checkpoint('one')}\nRemove-SCVirtualMachine -VM $vm | Out-Null\n"
               "ConvertTo-Json -Compress -InputObject @(Get-SCVMCheckpoint | ForEach-Object { $_.Name })\n"
               "Restore-SCVMCheckpoint -VMCheckpoint $cp")
    assert r.std_out.decode().splitlines()[0] == '["kept"]'
    assert r.status_code == 1 and b"(Error ID: 801)" in r.std_err
