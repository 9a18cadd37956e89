"""Logical networks, VM networks with VLANs, static IP pools and VM network adapters over WinRM."""

from __future__ import annotations

import time
from typing import Any

from test_vmm import HEAD, ps_json, vm_in_state

from conftest import Sim
from herder_dev.scvmm_sim.vmm.diskfile import write_vhdx

POOL = HEAD + "$pool = Get-SCStaticIPAddressPool -Name 'Herder-Pool'\n"


def new_vm(sim: Sim, name: str, template: str = "ubuntu-22.04-tmpl", extra: str = "") -> str:
    group = " -JobGroup $g" if extra else ""
    out = ps_json(sim, HEAD + f"$t = Get-SCVMTemplate -Name '{template}'\n"
                  f"$cfg = New-SCVMConfiguration -VMTemplate $t -Name '{name}' -VMHostGroup (Get-SCVMHostGroup -Name "
                  f"'Zone-A')\n{extra}$vm = New-SCVirtualMachine -Name '{name}' -VMConfiguration $cfg{group}\n"
                  "[string]$vm.ID | ConvertTo-Json")
    return str(out)


def vm_get(vm_id: str) -> str:
    return HEAD + f"$vm = Get-SCVirtualMachine -ID '{vm_id}'\n$net = Get-SCVMNetwork -Name 'Herder-VMNet'\n"


def allocated(sim: Sim) -> dict[str, Any]:
    return {a["address"]: a["assigned_to"] for a in sim.admin("GET", "/admin/state")["ip_addresses"]}


def test_seeded_networks_vlan_and_pool(sim: Sim) -> None:
    out = ps_json(sim, POOL + "$net = Get-SCVMNetwork -Name 'Herder-VMNet'\n$sub = @($net.VMSubnet)[0]\n"
                  "[pscustomobject]@{ Logical = $net.LogicalNetwork.Name; Isolation = $net.IsolationType; "
                  "Subnet = $sub.Name; Vlan = $sub.SubnetVLans[0].VLanID; Cidr = $sub.SubnetVLans[0].Subnet; "
                  "ByNetwork = @(Get-SCVMSubnet -VMNetwork $net).Count; Logicals = @(Get-SCLogicalNetwork).Count; "
                  "Start = $pool.IPAddressRangeStart; End = $pool.IPAddressRangeEnd; "
                  "Gateway = $pool.DefaultGateways[0].IPAddress; Dns = $pool.DNSServers; Suffix = $pool.DNSSuffix; "
                  "Total = $pool.TotalAddresses; Free = $pool.AvailableAddresses; "
                  "BySubnet = @(Get-SCStaticIPAddressPool -Subnet '10.30.0.0/24').Count } | ConvertTo-Json -Compress")
    assert out == {"Logical": "Herder-LN", "Isolation": "VLANNetwork", "Subnet": "Herder-VMNet_0", "Vlan": 100,
                   "Cidr": "10.30.0.0/24", "ByNetwork": 1, "Logicals": 1, "Start": "10.30.0.10",
                   "End": "10.30.0.20", "Gateway": "10.30.0.1", "Dns": ["10.30.0.2"], "Suffix": "herder.test",
                   "Total": 11, "Free": 11, "BySubnet": 1}


def test_grant_revoke_and_the_errors_of_a_pool(sim: Sim) -> None:
    granted = ps_json(sim, POOL + "$ip = Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType "
                      "'VirtualMachine' -IPAddress '10.30.0.15' -Description 'web'\n"
                      "[pscustomobject]@{ Address = $ip.Address; Pool = $ip.AllocatingAddressPool.Name; "
                      "Free = (Get-SCStaticIPAddressPool -Name 'Herder-Pool').AvailableAddresses } | "
                      "ConvertTo-Json -Compress")
    assert granted == {"Address": "10.30.0.15", "Pool": "Herder-Pool", "Free": 10}
    r = sim.ps(POOL + "Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType VirtualMachine "
               "-IPAddress '10.30.0.15'")
    assert r.status_code == 1 and b"(Error ID: 21433)" in r.std_err  # already granted
    r = sim.ps(POOL + "Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType VirtualMachine "
               "-IPAddress '10.30.0.99'")
    assert r.status_code == 1 and b"(Error ID: 21434)" in r.std_err  # outside the range
    rest = ps_json(sim, POOL + "ConvertTo-Json -Compress -InputObject @(foreach ($i in 1,2,3,4,5,6,7,8,9,10) { "
                   "(Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType VirtualMachine).Address })")
    assert len(rest) == 10 and "10.30.0.15" not in rest and rest[0] == "10.30.0.10"
    r = sim.ps(POOL + "Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType VirtualMachine")
    assert r.status_code == 1 and b"(Error ID: 21432)" in r.std_err  # exhausted
    back = ps_json(sim, POOL + "$ip = Get-SCIPAddress -IPAddress '10.30.0.15'\n$null = Revoke-SCIPAddress $ip\n"
                   "[pscustomobject]@{ Free = (Get-SCStaticIPAddressPool -Name 'Herder-Pool').AvailableAddresses; "
                   "Again = (Grant-SCIPAddress -StaticIPAddressPool $pool -GrantToObjectType VirtualMachine).Address; "
                   "Listed = @(Get-SCIPAddress -StaticIPAddressPool $pool).Count } | ConvertTo-Json -Compress")
    assert back == {"Free": 1, "Again": "10.30.0.15", "Listed": 11}


def test_adapters_static_address_vlan_and_hot_plug_on_generation_2(sim: Sim) -> None:
    vm_id = new_vm(sim, "web")
    added = ps_json(sim, vm_get(vm_id) + "$nic = New-SCVirtualNetworkAdapter -VM $vm -VMNetwork $net "
                    "-IPv4AddressType Static -MACAddressType Static -MACAddress '00-15-5D-01-02-03'\n"
                    "[pscustomobject]@{ Net = $nic.VMNetwork.Name; Vlan = $nic.VLanID; On = $nic.VLanEnabled; "
                    "Type = [string]$nic.IPv4AddressType; Mac = $nic.MACAddress; Id = [string]$nic.ID; "
                    "Granted = @(Get-SCIPAddress -GrantToObjectID $nic.ID | ForEach-Object { $_.Address }) } | "
                    "ConvertTo-Json -Compress")
    assert {k: v for k, v in added.items() if k != "Id"} == {
        "Net": "Herder-VMNet", "Vlan": 100, "On": True, "Type": "Static", "Mac": "00:15:5D:01:02:03",
        "Granted": ["10.30.0.10"]}
    nic_id = added["Id"]
    seen = ps_json(sim, vm_get(vm_id) + "$vm = Start-SCVirtualMachine -VM $vm\n"
                   "ConvertTo-Json -Compress -Depth 3 -InputObject @($vm.VirtualNetworkAdapters | ForEach-Object { "
                   "[pscustomobject]@{ Net = [string]$_.VMNetwork; Ips = $_.IPv4Addresses } })")
    assert seen[1] == {"Net": "Herder-VMNet", "Ips": ["10.30.0.10"]}  # the guest reports it while running
    nic = f"$nic = Get-SCVirtualNetworkAdapter -VM $vm | Where-Object {{ $_.ID -eq '{nic_id}' }}\n"
    changed = ps_json(sim, vm_get(vm_id) + nic + "$nic = Set-SCVirtualNetworkAdapter -VirtualNetworkAdapter $nic "
                      "-IPv4Addresses '10.30.0.18'\nConvertTo-Json -Compress -InputObject @($nic.IPv4Addresses)")
    assert changed == ["10.30.0.18"]
    assert allocated(sim) == {"10.30.0.18": nic_id}  # the first address went back to the pool
    r = sim.ps(vm_get(vm_id) + nic + "Set-SCVirtualNetworkAdapter -VirtualNetworkAdapter $nic -VLanEnabled $true "
               "-VLanID 200")
    assert r.status_code == 1 and b"(Error ID: 21436)" in r.std_err  # not a VLAN of Herder-VMNet
    r = sim.ps(vm_get(vm_id) + nic + "Set-SCVirtualNetworkAdapter -VirtualNetworkAdapter $nic -MACAddress "
               "'00-15-5D-09-09-09'")
    assert r.status_code == 1 and b"(Error ID: 1730)" in r.std_err  # a MAC changes only while stopped
    ps_json(sim, vm_get(vm_id) + nic + "Remove-SCVirtualNetworkAdapter -VirtualNetworkAdapter $nic\n'{}'")
    assert len((vm_in_state(sim, vm_id) or {})["nics"]) == 1  # hot removal on a running generation 2 VM
    assert allocated(sim) == {}


def test_generation_1_adapters_change_only_while_stopped(sim: Sim) -> None:
    root = sim.running.sim.store.library_root / "vmm01.herder.test" / "MSSCVMMLibrary"
    write_vhdx(root / "gen1.vhdx", 1024**3)
    ps_json(sim, HEAD + "$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)\n"
            "$null = New-SCVMTemplate -Name 'gen1' -VirtualHardDisk (Get-SCVirtualHardDisk -Name 'gen1.vhdx')\n'{}'")
    vm_id = new_vm(sim, "old", template="gen1")
    r = sim.ps(vm_get(vm_id) + "$vm = Start-SCVirtualMachine -VM $vm\nNew-SCVirtualNetworkAdapter -VM $vm "
               "-VMNetwork $net -Synthetic")
    assert r.status_code == 1 and b"(Error ID: 1730)" in r.std_err
    out = ps_json(sim, vm_get(vm_id) + "$vm = Stop-SCVirtualMachine -VM $vm -Force\n"
                  "$a = New-SCVirtualNetworkAdapter -VM $vm -VMNetwork $net\n"
                  "$b = New-SCVirtualNetworkAdapter -VM $vm -VMNetwork $net -Synthetic\n"
                  "ConvertTo-Json -Compress -InputObject @([string]$a.VirtualNetworkAdapterType, "
                  "[string]$b.VirtualNetworkAdapterType)")
    assert out == ["Emulated", "Synthetic"]


def test_adapters_queued_in_a_job_group_join_the_new_vm(sim: Sim) -> None:
    queue = ("$g = [guid]::NewGuid()\n$net = Get-SCVMNetwork -Name 'Herder-VMNet'\n"
             "New-SCVirtualNetworkAdapter -JobGroup $g -VMNetwork $net -IPv4AddressType Static\n")
    vm_id = new_vm(sim, "grouped", extra=queue)
    nics = (vm_in_state(sim, vm_id) or {})["nics"]
    assert len(nics) == 2 and nics[1]["ipv4"] == ["10.30.0.10"] and nics[1]["synthetic"] is True
    assert allocated(sim) == {"10.30.0.10": nics[1]["id"]}
    ps_json(sim, HEAD + f"Remove-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{vm_id}')\n'{{}}'")
    time.sleep(0.1)
    free = ps_json(sim, POOL + "$pool.AvailableAddresses | ConvertTo-Json")
    assert free == 11  # removing the VM gave its address back


def test_bad_adapter_arguments(sim: Sim) -> None:
    vm_id = new_vm(sim, "bad")
    r = sim.ps(vm_get(vm_id) + "New-SCVirtualNetworkAdapter -VM $vm -MACAddressType Static -MACAddress 'zz-zz'")
    assert r.status_code == 1 and b"(Error ID: 21437)" in r.std_err
    r = sim.ps(vm_get(vm_id) + "New-SCVirtualNetworkAdapter -VM $vm -IPv4AddressType Static")
    assert r.status_code == 1 and b"(Error ID: 21435)" in r.std_err  # static, but on no network with a pool
    r = sim.ps(vm_get(vm_id) + "New-SCVirtualNetworkAdapter -VM $vm -IPv4AddressPool (Get-SCStaticIPAddressPool)")
    assert r.status_code == 1 and b"A parameter cannot be found that matches parameter name 'IPv4AddressPool'" \
        in r.std_err  # only Set-SCVirtualNetworkAdapter takes pools for a VM's adapter


CONFIGURE = (HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
             "$hg = Get-SCVMHostGroup -Name 'Zone-A'\n"
             "$cfg = New-SCVMConfiguration -VMTemplate $t -Name '{name}' -VMHostGroup $hg\n"
             "$sub = @(Get-SCVMSubnet -VMNetwork (Get-SCVMNetwork -Name 'Herder-VMNet'))[0]\n"
             "$nc = @(Get-SCVirtualNetworkAdapterConfiguration -VMConfiguration $cfg)[0]\n"
             "$null = Set-SCVirtualNetworkAdapterConfiguration -VirtualNetworkAdapterConfiguration $nc -VMSubnet $sub "
             "-IPv4AddressPool (Get-SCStaticIPAddressPool -Name 'Herder-Pool') {address} -MACAddress "
             "'00-1D-D8-B7-1C-99' -PinIPv4AddressPool $true\n"
             "$cfg = Update-SCVMConfiguration -VMConfiguration $cfg\n")


def test_a_vm_configuration_allocates_its_adapter_before_the_vm_is_made(sim: Sim) -> None:
    seen = ps_json(sim, CONFIGURE.format(name="web-1", address="-IPv4Address '10.30.0.17'") +
                   "$nc = @(Get-SCVirtualNetworkAdapterConfiguration -VMConfiguration $cfg)[0]\n"
                   "$vm = New-SCVirtualMachine -Name 'web-1' -VMConfiguration $cfg -StartVM\n"
                   "$a = @($vm.VirtualNetworkAdapters)[0]\n"
                   "[pscustomobject]@{ Type = [string]$nc.IPv4AddressType; Held = $nc.IPv4Address; "
                   "Id = [string]$vm.ID; "
                   "Network = $a.VMNetwork.Name; Vlan = $a.VLanID; Mac = $a.MACAddress; Ips = $a.IPv4Addresses; "
                   "AddressType = [string]$a.IPv4AddressType } | ConvertTo-Json -Compress")
    assert (seen["Type"], seen["Held"]) == ("Static", "10.30.0.17")
    assert (seen["Network"], seen["Vlan"], seen["Mac"], seen["Ips"], seen["AddressType"]) == (
        "Herder-VMNet", 100, "00:1D:D8:B7:1C:99", ["10.30.0.17"], "Static")
    vm = vm_in_state(sim, seen["Id"])
    assert vm is not None and allocated(sim) == {"10.30.0.17": vm["nics"][0]["id"]}
    # The address is taken now: another configuration asking for it fails at Update, and holds nothing.
    r = sim.ps(CONFIGURE.format(name="web-2", address="-IPv4Address '10.30.0.17'"))
    assert r.status_code == 1 and b"(Error ID: 21433)" in r.std_err
    assert list(allocated(sim)) == ["10.30.0.17"]
    # From the pool: the lowest free address, given back when the configuration is removed.
    ps_json(sim, CONFIGURE.format(name="web-3", address="") + "'{}'")
    assert sorted(allocated(sim)) == ["10.30.0.10", "10.30.0.17"]
    ps_json(sim, HEAD + "$null = Remove-SCVMConfiguration -VMConfiguration (Get-SCVMConfiguration -Name 'web-3')\n'{}'")
    assert list(allocated(sim)) == ["10.30.0.17"]


def test_an_exhausted_pool_fails_the_update_and_remove_gives_addresses_back(sim: Sim) -> None:
    for i in range(11):  # Herder-Pool holds 10.30.0.10-20
        ps_json(sim, CONFIGURE.format(name=f"c{i}", address="") + "'{}'")
    r = sim.ps(CONFIGURE.format(name="c11", address=""))
    assert r.status_code == 1 and b"(Error ID: 21432)" in r.std_err
    assert len(allocated(sim)) == 11
    freed = ps_json(sim, HEAD + "$null = Remove-SCVMConfiguration -VMConfiguration (Get-SCVMConfiguration -Name 'c4')\n"
                    "(Get-SCStaticIPAddressPool -Name 'Herder-Pool').AvailableAddresses | ConvertTo-Json")
    assert freed == 1


def test_the_adapter_a_template_gives_can_be_connected_later(sim: Sim) -> None:
    vm_id = new_vm(sim, "plain")
    out = ps_json(sim, vm_get(vm_id) + "$a = @($vm.VirtualNetworkAdapters)[0]\n"
                  "$before = [string]$a.IPv4AddressType + '/' + [string]$a.VMNetwork\n"
                  "$null = Set-SCVirtualNetworkAdapter -VirtualNetworkAdapter $a -VMNetwork $net\n"
                  "$a = @((Get-SCVirtualMachine -ID $vm.ID).VirtualNetworkAdapters)[0]\n"
                  "[pscustomobject]@{ Before = $before; Network = $a.VMNetwork.Name; Vlan = $a.VLanID; "
                  "Type = [string]$a.IPv4AddressType } | ConvertTo-Json -Compress")
    assert out == {"Before": "Dynamic/", "Network": "Herder-VMNet", "Vlan": 100, "Type": "Dynamic"}
    assert allocated(sim) == {}
