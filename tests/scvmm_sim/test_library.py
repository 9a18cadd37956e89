"""The VMM library over WinRM: shares that are real directories, the refresher, VHDs and library templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_vmm import HEAD, ps_json, vm_in_state

from conftest import LIBRARY, Sim, make_config, share_dir
from herder_dev import pki
from herder_dev.scvmm_sim.server import start
from herder_dev.scvmm_sim.vmm.diskfile import inspect, write_vhd, write_vhdx

GIB = 1024**3
REFRESH = HEAD + "$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)\n"
DISKS = ("ConvertTo-Json -Compress -InputObject @(Get-SCVirtualHardDisk -All | Where-Object { $_.Location -like "
         "'\\\\*' } | Sort-Object Name | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Location = $_.Location; "
         "Max = $_.MaximumSize; Format = [string]$_.VHDFormatType; Type = [string]$_.VHDType } })")


def disks(sim: Sim, refresh: bool = True) -> list[dict[str, Any]]:
    return list(ps_json(sim, (REFRESH if refresh else HEAD) + DISKS))


def test_library_server_and_share(sim: Sim) -> None:
    out = ps_json(sim, HEAD + "$s = Get-SCLibraryShare\n$l = Get-SCLibraryServer -ComputerName 'vmm01'\n"
                  "[pscustomobject]@{ Share = $s.Name; Path = $s.Path; Server = $s.LibraryServer.Name; "
                  "Fqdn = $l.FQDN; Found = @(Get-SCLibraryServer -ComputerName 'nope').Count } | "
                  "ConvertTo-Json -Compress")
    assert out == {"Share": "MSSCVMMLibrary", "Path": LIBRARY, "Server": "vmm01.herder.test",
                   "Fqdn": "vmm01.herder.test", "Found": 0}
    assert share_dir(sim).is_dir()


def test_refresh_imports_only_virtual_hard_disks(sim: Sim) -> None:
    root = share_dir(sim)
    (root / "images").mkdir()
    write_vhdx(root / "images" / "ubuntu.vhdx", 2 * GIB)
    write_vhd(root / "legacy.vhd", 16 * 1024 * 1024)
    (root / "junk.vhdx").write_bytes(b"not a disk" * 100)  # no "vhdxfile" signature
    (root / "junk.vhd").write_bytes(b"\0" * 4096)  # no "conectix" footer
    write_vhd(root / "forged.vhd", 1024 * 1024)
    with (root / "forged.vhd").open("r+b") as fh:  # a well-formed footer whose cookie is not "conectix"
        fh.seek(-512, 2)
        fh.write(b"notavhd!")
    (root / "readme.txt").write_text("hello")
    assert disks(sim, refresh=False) == []  # nothing until the share is read
    assert disks(sim) == [
        {"Name": "legacy.vhd", "Location": LIBRARY + "\\legacy.vhd", "Max": 16 * 1024 * 1024, "Format": "VHD",
         "Type": "FixedSize"},
        {"Name": "ubuntu.vhdx", "Location": LIBRARY + "\\images\\ubuntu.vhdx", "Max": 2 * GIB, "Format": "VHDX",
         "Type": "DynamicallyExpanding"},
    ]
    (root / "legacy.vhd").unlink()
    (root / "images" / "ubuntu.vhdx").write_bytes(b"overwritten")  # no longer a disk
    assert disks(sim) == []


def test_refresh_of_a_path_and_the_refresh_job(sim: Sim) -> None:
    root = share_dir(sim)
    (root / "a").mkdir()
    (root / "b").mkdir()
    write_vhdx(root / "a" / "one.vhdx", GIB)
    write_vhdx(root / "b" / "two.vhdx", GIB)
    job = ps_json(sim, HEAD + f"$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare) -Path '{LIBRARY}\\a' "
                  "-RunAsynchronously\n"
                  "$j = Get-SCJob -All | Where-Object { $_.Name -eq 'Refresh library share' }\n"
                  "ConvertTo-Json -Compress -InputObject @($j | ForEach-Object { [string]$_.Status })")
    assert job == ["Running"]
    ps_json(sim, HEAD + "Start-Sleep -Milliseconds 400\n'{}'")
    assert [d["Name"] for d in disks(sim, refresh=False)] == ["one.vhdx"]
    r = sim.ps(HEAD + "Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare) -Path '\\\\other\\share\\a'")
    assert r.status_code == 1 and b"(Error ID: 801)" in r.std_err


def test_template_from_a_vhd_carries_custom_properties_and_makes_vms(sim: Sim) -> None:
    write_vhdx(share_dir(sim) / "base.vhdx", 30 * GIB)
    template = HEAD + (
        "$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)\n"
        "$vhd = Get-SCVirtualHardDisk -Name 'base.vhdx'\n"
        "$os = Get-SCOperatingSystem | Where-Object { $_.Name -eq 'Ubuntu Linux 22.04 (64 bit)' }\n"
        "$t = New-SCVMTemplate -Name 'herder-img-1' -VirtualHardDisk $vhd -Generation 2 -OperatingSystem $os "
        "-CPUCount 2 -MemoryMB 2048 -NoCustomization\n"
        "$p = New-SCCustomProperty -Name 'HerderImage' -AddMember @('VMTemplate')\n"
        "$null = Set-SCCustomPropertyValue -InputObject $t -CustomProperty $p -Value 'default/img-1'\n"
        "$t = Get-SCVMTemplate -Name 'herder-img-1'\n"
        "[pscustomobject]@{ Gen = $t.Generation; Os = $t.OperatingSystem; Disks = @($t.VirtualHardDisks | "
        "ForEach-Object { $_.Name }); Mark = $t.CustomProperty['HerderImage']; "
        "Marked = @(Get-SCVMTemplate -All | Where-Object { $_.CustomProperty['HerderImage'] }).Count } | "
        "ConvertTo-Json -Compress")
    assert ps_json(sim, template) == {"Gen": 2, "Os": "Ubuntu Linux 22.04 (64 bit)", "Disks": ["base.vhdx"],
                                      "Mark": "default/img-1", "Marked": 1}
    vm = ps_json(sim, HEAD + "$t = Get-SCVMTemplate -Name 'herder-img-1'\n"
                 "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'from-img' -VMHostGroup (Get-SCVMHostGroup "
                 "-Name 'Zone-A')\n$vm = New-SCVirtualMachine -Name 'from-img' -VMConfiguration $cfg\n"
                 "[pscustomobject]@{ ID = [string]$vm.ID; Cpu = $vm.CPUCount; Gen = $vm.Generation } | "
                 "ConvertTo-Json -Compress")
    assert (vm["Cpu"], vm["Gen"]) == (2, 2)
    record = vm_in_state(sim, vm["ID"]) or {}
    assert [(d["file"], d["size_mb"], d["boot"]) for d in record["disks"]] == [("base.vhdx", 30 * 1024, True)]


def test_a_generation_2_template_needs_a_vhdx(sim: Sim) -> None:
    write_vhd(share_dir(sim) / "old.vhd", 8 * 1024 * 1024)
    r = sim.ps(REFRESH + "New-SCVMTemplate -Name 't' -VirtualHardDisk (Get-SCVirtualHardDisk -Name 'old.vhd') "
               "-Generation 2")
    assert r.status_code == 1 and b"(Error ID: 13264)" in r.std_err
    out = ps_json(sim, REFRESH + "$t = New-SCVMTemplate -Name 't' -VirtualHardDisk (Get-SCVirtualHardDisk -Name "
                  "'old.vhd')\n[pscustomobject]@{ Gen = $t.Generation; Cpu = $t.CPUCount; Mem = $t.Memory } | "
                  "ConvertTo-Json -Compress")
    assert out == {"Gen": 1, "Cpu": 1, "Mem": 512}  # VMM's defaults without a hardware profile


def test_parameter_sets_of_new_scvmtemplate(sim: Sim) -> None:
    write_vhdx(share_dir(sim) / "base.vhdx", GIB)
    r = sim.ps(REFRESH + f"New-SCVMTemplate -Name 't' -VirtualHardDisk (Get-SCVirtualHardDisk -Name 'base.vhdx') "
               f"-SharePath '{LIBRARY}'")
    assert r.status_code == 1 and b"Parameter set cannot be resolved" in r.std_err
    r = sim.ps(HEAD + "New-SCVMTemplate -Name 't'")
    assert r.status_code == 1 and b"NewTemplateFromNothing" in r.std_err


def test_removing_a_vhd_a_template_uses_needs_force_and_deletes_the_file(sim: Sim) -> None:
    path = share_dir(sim) / "base.vhdx"
    write_vhdx(path, GIB)
    ps_json(sim, REFRESH + "$null = New-SCVMTemplate -Name 't' -VirtualHardDisk (Get-SCVirtualHardDisk -Name "
            "'base.vhdx')\n'{}'")
    r = sim.ps(HEAD + "Remove-SCVirtualHardDisk -VirtualHardDisk (Get-SCVirtualHardDisk -Name 'base.vhdx')")
    assert r.status_code == 1 and b"(Error ID: 12702)" in r.std_err and path.exists()
    ps_json(sim, HEAD + "Remove-SCVirtualHardDisk -VirtualHardDisk (Get-SCVirtualHardDisk -Name 'base.vhdx') -Force\n"
            "Remove-SCVMTemplate -VMTemplate (Get-SCVMTemplate -Name 't')\n'{}'")
    assert not path.exists()
    state = sim.admin("GET", "/admin/state")
    assert state["vhds"] == [] and "t" not in [t["name"] for t in state["templates"]]


def test_template_from_a_vm_generalizes_and_destroys_it(sim: Sim) -> None:
    get_vm = HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n" \
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'golden' -VMHostGroup (Get-SCVMHostGroup -Name 'Zone-B')\n" \
        "$vm = New-SCVirtualMachine -Name 'golden' -VMConfiguration $cfg\n"
    capture = (f"$lib = Get-SCLibraryServer -ComputerName 'vmm01.herder.test'\n"
               f"$t = New-SCVMTemplate -Name 'golden-tmpl' -VM $vm -LibraryServer $lib -SharePath '{LIBRARY}\\golden'")
    r = sim.ps(get_vm + "$vm = Start-SCVirtualMachine -VM $vm\n" + capture)
    assert r.status_code == 1 and b"(Error ID: 1730)" in r.std_err  # a running VM cannot become a template
    (share_dir(sim) / "golden").mkdir()
    out = ps_json(sim, HEAD + "$vm = Get-SCVirtualMachine -Name 'golden'\n"
                  "$vm = Stop-SCVirtualMachine -VM $vm -Force\n" + capture + "\n"
                  "[pscustomobject]@{ Name = $t.Name; Left = @(Get-SCVirtualMachine -Name 'golden').Count; "
                  "Disks = @($t.VirtualHardDisks | ForEach-Object { $_.Location }) } | ConvertTo-Json -Compress")
    assert out == {"Name": "golden-tmpl", "Left": 0, "Disks": [LIBRARY + "\\golden\\golden_disk_1.vhdx"]}
    copied = inspect(share_dir(sim) / "golden" / "golden_disk_1.vhdx")  # a real VHDX the refresher accepts
    assert (copied.format, copied.maximum_size) == ("VHDX", 20 * GIB)
    state = sim.admin("GET", "/admin/state")
    tmpl = next(t for t in state["templates"] if t["name"] == "golden-tmpl")
    assert tmpl["generalized"] is True and tmpl["os"] == "Ubuntu Linux 22.04 (64 bit)"
    r = sim.ps(get_vm + capture)  # a new VM of the same name: its disk has the same file name
    assert r.status_code == 1 and b"(Error ID: 2906)" in r.std_err  # the copy would overwrite a library file


def test_a_state_file_from_before_the_library_gains_the_seeded_library(
        tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> None:
    config = make_config(tmp_path, tls)
    start(config).stop()
    assert config.state_file is not None
    old = json.loads(config.state_file.read_text())
    for kind in ("library_servers", "library_shares", "vhds", "vm_networks", "ip_pools", "ip_addresses"):
        del old[kind]
    config.state_file.write_text(json.dumps(old))
    running = start(config)
    try:
        sim = Sim(running, config, tls[0].cert)
        assert ps_json(sim, HEAD + "(Get-SCLibraryShare).Path | ConvertTo-Json") == LIBRARY
        assert ps_json(sim, HEAD + "(Get-SCStaticIPAddressPool).Name | ConvertTo-Json") == "Herder-Pool"
    finally:
        running.stop()
