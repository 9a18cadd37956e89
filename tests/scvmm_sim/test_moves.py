"""Migration over WinRM: live migration between hosts, storage migration, host maintenance, and refusals."""

from __future__ import annotations

from typing import Any

from conftest import HEAD, Sim, make_vm, ps_json, vm_in_state, vmm_error_id, wait_job

SHOW = ("[pscustomobject]@{ Host = $vm.VMHost.Name; HostName = $vm.HostName; Status = [string]$vm.Status; "
        "Location = $vm.Location; Vhd = @($vm.VirtualDiskDrives)[0].VirtualHardDisk.Location } | "
        "ConvertTo-Json -Compress")


def _get(vm_id: str) -> str:
    return HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"


def _host(name: str) -> str:
    return f"(Get-SCVMHost -ComputerName '{name}')"


def _shown(sim: Sim, vm_id: str) -> dict[str, Any]:
    return dict(ps_json(sim, _get(vm_id) + SHOW))


def test_live_migration_is_a_job_that_moves_a_running_vm(slow_sim: Sim) -> None:
    sim = slow_sim
    vm_id = make_vm(sim, "mover", start=True)
    assert _shown(sim, vm_id)["Host"] == "hv-b1.herder.test"
    moving = ps_json(sim, _get(vm_id) + f"$vm = Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')} "
                     "-RunAsynchronously\n[pscustomobject]@{ Status = [string]$vm.Status; "
                     "Job = [string]$vm.MostRecentTask.ID } | ConvertTo-Json -Compress")
    assert moving["Status"] == "UnderMigration"
    assert vmm_error_id(sim, _get(vm_id) + f"Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b1')}") == 1600
    assert wait_job(sim, moving["Job"])["Status"] == "Completed"
    shown = _shown(sim, vm_id)
    assert (shown["Host"], shown["HostName"], shown["Status"]) == ("hv-b2.herder.test", "hv-b2.herder.test", "Running")
    assert shown["Location"] == "C:\\ClusterStorage\\Volume1\\mover"  # shared storage: the files stay
    state = vm_in_state(sim, vm_id) or {}
    assert state["host_group"] == "All Hosts\\Zone-B"
    on_b2 = ps_json(sim, HEAD + "ConvertTo-Json -Compress -InputObject @(Get-SCVirtualMachine -VMHost "
                    f"{_host('hv-b2')} | ForEach-Object {{ $_.Name }})")
    assert on_b2 == ["mover"]


def test_storage_migration_moves_the_files_of_a_running_vm(sim: Sim) -> None:
    vm_id = make_vm(sim, "files", start=True)
    shown = ps_json(sim, _get(vm_id) + "$vm = Move-SCVirtualMachine -VM $vm -VMHost $vm.VMHost -Path 'D:\\VMs'\n"
                    + SHOW)
    assert shown == {"Host": "hv-b1.herder.test", "HostName": "hv-b1.herder.test", "Status": "Running",
                     "Location": "D:\\VMs\\files", "Vhd": "D:\\VMs\\files\\files_disk_1.vhdx"}
    # -Path alone moves the files too, and a move to another host may take them along.
    ps_json(sim, _get(vm_id) + "$vm = $vm | Move-SCVirtualMachine -Path 'E:\\Fast'\n"
            f"$vm = Move-SCVirtualMachine $vm -VMHost {_host('hv-b2')} -Path 'F:\\Other'\n'{{}}'")
    assert (_shown(sim, vm_id)["Host"], _shown(sim, vm_id)["Location"]) == ("hv-b2.herder.test", "F:\\Other\\files")
    assert vmm_error_id(sim, _get(vm_id) + "Move-SCVirtualMachine -VM $vm -Path 'F:\\Other'") == 13261  # already


def test_a_stopped_or_saved_vm_moves_and_may_start_on_the_target(sim: Sim) -> None:
    off = make_vm(sim, "cold")
    ps_json(sim, _get(off) + f"$vm = Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')} -StartVMOnTarget\n'{{}}'")
    assert (_shown(sim, off)["Host"], _shown(sim, off)["Status"]) == ("hv-b2.herder.test", "Running")
    saved = make_vm(sim, "warm", start=True)
    ps_json(sim, _get(saved) + "$vm = Save-SCVirtualMachine -VM $vm\n"
            f"$vm = Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')} -DiscardSavedState\n'{{}}'")
    assert _shown(sim, saved)["Status"] == "PowerOff"


def test_migration_is_refused_where_vmm_refuses_it(sim: Sim) -> None:
    big = make_vm(sim, "big", host_group="Zone-A", memory_mb=200000, start=True)
    move = "Move-SCVirtualMachine -VM $vm -VMHost " + _host("{}")
    in_gold = make_vm(sim, "tenant", cloud="Cloud-Dev")
    assert vmm_error_id(sim, _get(in_gold) + move.format("hv-a1")) == 23760  # Cloud-Dev has only Zone-B
    a_host = (vm_in_state(sim, big) or {})["host"]
    other = next(h["name"].split(".")[0] for h in sim.admin("GET", "/admin/state")["hosts"]
                 if h["host_group"] == "All Hosts\\Zone-B" and h["id"] != a_host)
    assert vmm_error_id(sim, _get(big) + move.format(other)) == 13262  # 200000 MB into a 131072 MB host
    assert vmm_error_id(sim, _get(big) + "Move-SCVirtualMachine -VM $vm") == 13261  # nowhere to go

    sim.admin("POST", "/admin/faults", {"job_fail": "New-SCVirtualMachine", "times": 1})
    r = sim.ps(HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
               "New-SCVirtualMachine -Name 'broken' -VMTemplate $t -VMHostGroup (Get-SCVMHostGroup -Name 'Zone-B')")
    assert r.status_code == 1
    broken = next(v["id"] for v in sim.admin("GET", "/admin/state")["vms"] if v["name"] == "broken")
    assert vmm_error_id(sim, _get(broken) + move.format("hv-b2")) == 1730  # CreationFailed


def test_a_host_in_maintenance_saves_its_vms_and_takes_no_new_ones(sim: Sim) -> None:
    running = make_vm(sim, "evicted", start=True)
    assert _shown(sim, running)["Host"] == "hv-b1.herder.test"
    shown = ps_json(sim, HEAD + f"$h = Disable-SCVMHost -VMHost {_host('hv-b1')}\n"
                    "[pscustomobject]@{ State = $h.OverallState; Placement = $h.AvailableForPlacement } | "
                    "ConvertTo-Json -Compress")
    assert shown == {"State": "MaintenanceMode", "Placement": True}
    assert _shown(sim, running)["Status"] == "Saved"
    # Placement leaves it out: the next VM of Zone-B lands on hv-b2; naming it is refused.
    assert _shown(sim, make_vm(sim, "placed"))["Host"] == "hv-b2.herder.test"
    assert vmm_error_id(sim, "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'pinned' "
                        "-VMHostGroup (Get-SCVMHostGroup -Name 'Zone-B')\n"
                        f"Set-SCVMConfiguration -VMConfiguration $cfg -VMHost {_host('hv-b1')}") == 13260
    # A VM leaves a host in maintenance, but none comes in.
    ps_json(sim, _get(running) + f"$vm = Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')}\n'{{}}'")
    assert vmm_error_id(sim, _get(running) + f"Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b1')}") == 13260
    ps_json(sim, HEAD + f"$null = Enable-SCVMHost -VMHost {_host('hv-b1')}\n"
            f"$null = Set-SCVMHost -VMHost {_host('hv-b2')} -AvailableForPlacement $false\n'{{}}'")
    assert vmm_error_id(sim, _get(running) + f"Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')}") == 13261
    other = make_vm(sim, "elsewhere")
    assert _shown(sim, other)["Host"] == "hv-b1.herder.test"
    assert vmm_error_id(sim, _get(other) + f"Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b2')}") == 13260
    ps_json(sim, _get(other) + f"$vm = Move-SCVirtualMachine -VM $vm -VMHost {_host('hv-b1')} -Path 'D:\\x'\n'{{}}'")
