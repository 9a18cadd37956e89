"""VMM behaviour through cmdlets, checked independently through GET /admin/state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HEAD, PASSWORD, USER, Sim, make_config, ps_json, vm_in_state, wait_job
from herder_dev import pki
from herder_dev.scvmm_sim.server import start

CREATE = HEAD + """
$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'
$hg = Get-SCVMHostGroup -Name 'Zone-B'
$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'web-1' -VMHostGroup $hg
$cfg = Update-SCVMConfiguration -VMConfiguration $cfg
$group = [guid]::NewGuid()
$disk = @{ SCSI = $true; Bus = 0; LUN = 1; Dynamic = $true; VirtualHardDiskSizeMB = 10240 }
New-SCVirtualDiskDrive @disk -FileName 'web-1_data.vhdx' -JobGroup $group
$vm = New-SCVirtualMachine -Name 'web-1' -VMConfiguration $cfg -CPUCount 2 -MemoryMB 4096 -JobGroup $group `
    -RunAsynchronously
$out = [pscustomobject]@{ ID = [string]$vm.ID; Status = [string]$vm.Status; Job = [string]$vm.MostRecentTask.ID }
ConvertTo-Json -Compress -InputObject $out
"""


def create_vm(sim: Sim) -> str:
    created = ps_json(sim, CREATE)
    assert created["Status"] == "UnderCreation"
    assert wait_job(sim, created["Job"]) == {"Status": "Completed", "Done": True, "Code": 0, "Problem": ""}
    return str(created["ID"])


def test_create_async_and_follow_the_job(sim: Sim) -> None:
    vm_id = create_vm(sim)
    vm = vm_in_state(sim, vm_id)
    assert vm is not None
    assert (vm["name"], vm["status"], vm["cpu_count"], vm["memory_mb"]) == ("web-1", "PowerOff", 2, 4096)
    assert vm["host_group"] == "All Hosts\\Zone-B"
    assert sorted((d["lun"], d["size_mb"]) for d in vm["disks"]) == [(0, 20480), (1, 10240)]
    seen = ps_json(sim, HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"
                   "[pscustomobject]@{ Status = $vm.Status; Text = $vm.StatusString; Host = $vm.HostName; "
                   "Disks = @($vm.VirtualDiskDrives).Count } | ConvertTo-Json -Compress")
    assert seen == {"Status": 1, "Text": "Stopped", "Host": "hv-b1.herder.test", "Disks": 2}  # enum as number


def test_custom_property_resize_power_disks_checkpoints_delete(sim: Sim) -> None:
    vm_id = create_vm(sim)
    get = HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"
    ps_json(sim, get + "$p = New-SCCustomProperty -Name 'HerderUID' -AddMember @('VM')\n"
            "$null = Set-SCCustomPropertyValue -InputObject $vm -CustomProperty $p -Value 'uid-123'\n"
            "ConvertTo-Json -InputObject @() ")
    found = ps_json(sim, HEAD + "ConvertTo-Json -Compress -InputObject @(Get-SCVirtualMachine -All | "
                    "Where-Object { $_.CustomProperty['HerderUID'] -eq 'uid-123' } | ForEach-Object { [string]$_.ID })")
    assert found == [vm_id]

    ps_json(sim, get + "$vm = Set-SCVirtualMachine -VM $vm -CPUCount 4 -MemoryMB 8192\n'{}'")
    assert (vm_in_state(sim, vm_id) or {})["cpu_count"] == 4

    ps_json(sim, get + "$vm = Start-SCVirtualMachine -VM $vm\n'{}'")
    assert (vm_in_state(sim, vm_id) or {})["status"] == "Running"
    # Hardware changes need the VM off: error 1730 goes to catch.
    r = ps_json(sim, get + "try { Set-SCVirtualMachine -VM $vm -CPUCount 8; '\"no\"' } "
                "catch { ConvertTo-Json -InputObject $_.Exception.Message }")
    assert "(Error ID: 1730)" in r

    ps_json(sim, get + "$d = @($vm.VirtualDiskDrives | Where-Object { $_.Lun -eq 1 })[0]\n"
            "$null = Expand-SCVirtualDiskDrive -VirtualDiskDrive $d -VirtualHardDiskSizeGB 20\n"
            "$null = New-SCVirtualDiskDrive -VM $vm -SCSI -Bus 0 -LUN 2 -Dynamic -VirtualHardDiskSizeMB 1024 "
            "-FileName 'x.vhdx'\n'{}'")
    disks = {d["lun"]: d["size_mb"] for d in (vm_in_state(sim, vm_id) or {})["disks"]}
    assert disks == {0: 20480, 1: 20480, 2: 1024}
    ps_json(sim, get + "$d = @($vm.VirtualDiskDrives | Where-Object { $_.Lun -eq 2 })[0]\n"
            "Remove-SCVirtualDiskDrive -VirtualDiskDrive $d\n'{}'")
    assert len((vm_in_state(sim, vm_id) or {})["disks"]) == 2

    ps_json(sim, get + "$null = New-SCVMCheckpoint -VM $vm -Name 'before'\n"
            "$vm = Stop-SCVirtualMachine -VM $vm -Force\n"
            "$vm = Set-SCVirtualMachine -VM $vm -CPUCount 1\n"
            "$cp = Get-SCVMCheckpoint -VM $vm -MostRecent\n"
            "$null = Restore-SCVMCheckpoint -VMCheckpoint $cp\n'{}'")
    vm = vm_in_state(sim, vm_id) or {}
    # Hyper-V's default is a production checkpoint: no memory state, so the restored VM is off.
    assert (vm["cpu_count"], vm["status"], [c["name"] for c in vm["checkpoints"]]) == (4, "PowerOff", ["before"])
    ps_json(sim, get + "Remove-SCVMCheckpoint -VMCheckpoint (Get-SCVMCheckpoint -VM $vm)\n"
            "Start-SCVirtualMachine -VM $vm | Out-Null\n"
            "Stop-SCVirtualMachine -VM $vm -Shutdown | Out-Null\n"
            "Remove-SCVirtualMachine -VM (Get-SCVirtualMachine -ID $vm.ID) -RunAsynchronously | Out-Null\n'{}'")
    time.sleep(0.5)
    assert vm_in_state(sim, vm_id) is None
    gone = sim.ps(HEAD + f"(Get-SCVirtualMachine -ID '{vm_id}') -eq $null")
    assert gone.std_out == b"True\r\n"


def test_busy_vm_and_removed_vm_errors(slow_sim: Sim) -> None:
    sim = slow_sim
    created = ps_json(sim, CREATE)
    r = sim.ps(HEAD + f"Start-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{created['ID']}')")
    assert r.status_code == 1 and b"(Error ID: 1600)" in r.std_err
    wait_job(sim, created["Job"])
    r = sim.ps(HEAD + f"$vm = Get-SCVirtualMachine -ID '{created['ID']}'\nRemove-SCVirtualMachine -VM $vm | "
               "Out-Null\nStart-SCVirtualMachine -VM $vm")
    assert r.status_code == 1 and b"(Error ID: 801)" in r.std_err


def test_a_guest_shutdown_needs_a_running_guest(sim: Sim) -> None:
    vm_id = create_vm(sim)
    get = HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"
    ps_json(sim, get + "$vm = Start-SCVirtualMachine -VM $vm\n$vm = Suspend-SCVirtualMachine -VM $vm\n'{}'")
    r = sim.ps(get + "Stop-SCVirtualMachine -VM $vm -Shutdown")
    assert r.status_code == 1 and b"(Error ID: 1730)" in r.std_err  # a paused guest cannot shut itself down
    r = sim.ps(get + "Stop-SCVirtualMachine -VM $vm -Shutdown -Force")
    assert r.status_code == 1 and b"Force" in r.std_err  # one or the other
    ps_json(sim, get + "$vm = Resume-SCVirtualMachine -VM $vm\n$vm = Stop-SCVirtualMachine -VM $vm -Shutdown\n'{}'")
    assert (vm_in_state(sim, vm_id) or {})["status"] == "PowerOff"


def test_injected_cmdlet_fault_and_failing_job(sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"cmdlet": "New-SCVirtualMachine", "error_id": 1600, "times": 2})
    for _ in range(2):
        r = sim.ps(CREATE)
        assert r.status_code == 1 and b"(Error ID: 1600)" in r.std_err
    assert sim.admin("GET", "/admin/state")["vms"] == []
    sim.admin("POST", "/admin/faults", {"job_fail": "New-SCVirtualMachine", "times": 1})
    created = ps_json(sim, CREATE)
    job = wait_job(sim, created["Job"])
    assert (job["Status"], job["Code"]) == ("Failed", 2912)
    assert (vm_in_state(sim, created["ID"]) or {})["status"] == "CreationFailed"
    assert sim.admin("GET", "/admin/faults")["job_failures"] == []
    create_vm(sim)  # the fault was used up


def test_latency_fault_and_round_trip_counts(sim: Sim) -> None:
    sim.admin("POST", "/admin/stats/reset")
    sim.admin("POST", "/admin/faults", {"latency_ms": 300})
    started = time.monotonic()
    sim.ps(HEAD + "$null = Get-SCVMTemplate; $null = Get-SCCloud")
    assert time.monotonic() - started >= 0.6
    stats = sim.admin("GET", "/admin/stats")
    assert (stats["commands"], stats["scripts"]) == (1, 1)
    assert stats["recent_scripts"][0]["names"] == ["Get-SCVMTemplate", "Get-SCCloud"]
    sim.admin("DELETE", "/admin/faults")
    assert sim.admin("GET", "/admin/faults")["latency_ms"] == 0


def test_bad_fault_spec_is_400(sim: Sim) -> None:
    import requests

    r = requests.post(sim.url.replace("/wsman", "/admin/faults"), json={"explode": True}, auth=(USER, PASSWORD),
                      verify=str(sim.ca), timeout=5)
    assert r.status_code == 400


def test_state_survives_a_restart(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> None:
    config = make_config(tmp_path, tls)
    running = start(config)
    sim = Sim(running, config, tls[0].cert)
    vm_id = create_vm(sim)
    running.stop()
    config.port = 0
    running = start(config)
    try:
        again = Sim(running, config, tls[0].cert)
        names = again.ps(HEAD + f"(Get-SCVirtualMachine -ID '{vm_id}').Name")
        assert names.std_out == b"web-1\r\n"
    finally:
        running.stop()


def test_inventory_seed_from_yaml(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("host_groups: ['All Hosts\\Lab']\nhosts:\n- {name: h1.lab, host_group: 'All Hosts\\Lab', "
                    "cpu_count: 8, memory_mb: 16384}\nclouds: []\ntemplates:\n- {name: t1, os: Linux, cpu_count: 1, "
                    "memory_mb: 512}\n")
    config = make_config(tmp_path, tls)
    config.seed = seed
    running = start(config)
    try:
        sim = Sim(running, config, tls[0].cert)
        out = ps_json(sim, HEAD + "ConvertTo-Json -Compress -InputObject @(@(Get-SCVMHostGroup | ForEach-Object "
                      "{ $_.Path }) + @(Get-SCVMTemplate | ForEach-Object { $_.Name }))")
        assert out == ["All Hosts", "All Hosts\\Lab", "t1"]
    finally:
        running.stop()


@pytest.mark.timeout(60)
def test_entry_point_serves_until_sigterm(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> None:
    ca, server = tls
    proc = subprocess.Popen(
        [sys.executable, "-m", "herder_dev.scvmm_sim", "--host", "127.0.0.1", "--port", "0", "--state-file",
         str(tmp_path / "s.json"), "--cert", str(server.cert), "--key", str(server.key), "--username", USER,
         "--password", PASSWORD, "--job-seconds", "0.1"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.startswith("scvmm-sim ready on https://127.0.0.1:")
        port = int(ready.rsplit(":", 1)[1].split("/")[0])
        import winrm

        s = winrm.Session(f"https://127.0.0.1:{port}/wsman", auth=(USER, PASSWORD), transport="ssl",
                          server_cert_validation="validate", ca_trust_path=str(ca.cert))
        assert s.run_ps("$ProgressPreference='SilentlyContinue'; (Get-SCVMMServer -ComputerName localhost).Port"
                        ).std_out == b"8100\r\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert (tmp_path / "s.json").exists()


def test_clone_a_stopped_vm(sim: Sim) -> None:
    vm_id = create_vm(sim)
    ps_json(sim, HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n"
            "$cp = New-SCCustomProperty -Name 'Owner' -AddMember @('VM')\n"
            "$null = Set-SCCustomPropertyValue -InputObject $vm -CustomProperty $cp -Value 'me'\n"
            "$null = Start-SCVirtualMachine -VM $vm\n'{}'")
    clone = (HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n$h = Get-SCVMHost -ComputerName 'hv-a1'\n"
             "$c = New-SCVirtualMachine -VM $vm -Name 'web-1-copy' -VMHost $h -Path 'D:\\VMs' -Description 'copy' "
             "-RunAsynchronously\n[pscustomobject]@{ ID = [string]$c.ID; Job = [string]$c.MostRecentTask.ID; "
             "Status = [string]$c.Status } | ConvertTo-Json -Compress")
    r = sim.ps(clone)
    assert r.status_code == 1 and b"must be stopped to clone it. (Error ID: 1730)" in r.std_err
    ps_json(sim, HEAD + f"$null = Stop-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm_id}') -Force\n'{{}}'")
    made = ps_json(sim, clone)
    assert made["Status"] == "UnderCreation"
    assert wait_job(sim, made["Job"])["Status"] == "Completed"
    source, copy = vm_in_state(sim, vm_id), vm_in_state(sim, made["ID"])
    assert source is not None and copy is not None
    assert (copy["name"], copy["description"], copy["status"], copy["custom"]) == ("web-1-copy", "copy", "PowerOff", {})
    assert source["custom"] == {"Owner": "me"}
    assert [(d["lun"], d["size_mb"]) for d in copy["disks"]] == [(d["lun"], d["size_mb"]) for d in source["disks"]]
    assert {d["id"] for d in copy["disks"]}.isdisjoint(d["id"] for d in source["disks"])
    assert copy["nics"][0]["mac"] != source["nics"][0]["mac"]
    assert (copy["host"], copy["guest"]["computer_name"]) == (
        next(h["id"] for h in sim.admin("GET", "/admin/state")["hosts"] if h["name"] == "hv-a1.herder.test"), "web-1")


@pytest.mark.parametrize(("extra", "expected"), [
    ("", b"(Error ID: 12406)"), ("-VMHost (Get-SCVMHost -ComputerName 'hv-a1')", b"(Error ID: 12406)"),
    ("-TimeZone 4 -Cloud (Get-SCCloud -Name 'Cloud-Dev')", b"AmbiguousParameterSet")])
def test_a_clone_needs_a_host_and_path_or_a_cloud_and_takes_no_guest_profile(sim: Sim, extra: str,
                                                                              expected: bytes) -> None:
    vm_id = create_vm(sim)
    r = sim.ps(HEAD + f"$null = New-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm_id}') -Name 'c' {extra}")
    assert r.status_code == 1 and expected in r.std_err, r.std_err
