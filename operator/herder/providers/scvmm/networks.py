"""An SCVMM VM's NICs, as script fragments: by VM network name and optional VLAN, addressed by DHCP or statically
from the VM subnet's static IP pool (the given address, or the pool's next free one).

At the create, the template's adapter is configured in the VM configuration (Set-SCVirtualNetworkAdapterConfiguration)
and the other NICs are queued with New-SCVirtualNetworkAdapter -JobGroup: their addresses are allocated before
New-SCVirtualMachine runs (Update-SCVMConfiguration), so an exhausted pool or a taken address fails before any VM
exists, and the configuration is removed again (its addresses go back). Later changes are VMM jobs on the VM's
adapters (New-, Set-, Remove-SCVirtualNetworkAdapter).
"""

from __future__ import annotations

from herder.providers.scvmm.scripts import quote
from herder.providers.types import NICSpec

VLAN_MISSING = 21436  # VMM's error for a VLAN the VM network does not have (see the simulator's docs)
NO_POOL = 21435


def subnet(variable: str, nic: NICSpec) -> list[str]:
    """Lines that set `$<variable>Net` to the NIC's VM network, `$<variable>` to its VM subnet (of the NIC's VLAN,
    else the first) and `$<variable>Vlan` to that subnet's VLAN (0: none), or throw."""
    v = "$" + variable
    missing = quote(f"VM network {nic.network!r} not found (Error ID: 801)")
    lines = [f"{v}Net = @(Get-SCVMNetwork -Name {quote(nic.network)})[0]",
             f"if ($null -eq {v}Net) {{ throw {missing} }}"]
    if nic.vlan is None:
        lines.append(f"{v} = @(Get-SCVMSubnet -VMNetwork {v}Net)[0]")
    else:
        lines.append(f"{v} = @(Get-SCVMSubnet -VMNetwork {v}Net | Where-Object {{ @($_.SubnetVLans | Where-Object "
                     f"{{ $_.VLanID -eq {nic.vlan} }}).Count -gt 0 }})[0]")
    vlan_missing = quote(f"VLAN {nic.vlan} is not available in VM network {nic.network!r} (Error ID: {VLAN_MISSING})")
    lines += [f"if ($null -eq {v}) {{ throw {vlan_missing} }}",
              f"{v}Vlan = [int]@({v}.SubnetVLans)[0].VLanID"]
    return lines


def pool(variable: str, nic: NICSpec) -> list[str]:
    """Lines that set `$<variable>Pool` to the static IP pool of the subnet in `$<variable>`, or throw."""
    v = "$" + variable
    none = quote(f"the VM subnet of VM network {nic.network!r} has no static IP address pool (Error ID: {NO_POOL})")
    return [f"{v}Pool = @(Get-SCStaticIPAddressPool -Subnet ([string]@({v}.SubnetVLans)[0].Subnet))[0]",
            f"if ($null -eq {v}Pool) {{ throw {none} }}"]


def configure_first(nic: NICSpec) -> list[str]:
    """Lines that configure `$cfg`'s adapter (the template's) for `nic`, before Update-SCVMConfiguration."""
    lines = subnet("nic0", nic)
    settings = " -VMSubnet $nic0"
    if nic.static:
        lines += pool("nic0", nic)
        settings += " -IPv4AddressPool $nic0Pool -PinIPv4AddressPool $true"
        if nic.address:
            settings += f" -IPv4Address {quote(nic.address.split('/')[0])}"
    if nic.mac:
        settings += f" -MACAddress {quote(nic.mac)}"
    lines += ["$nicConfig = @(Get-SCVirtualNetworkAdapterConfiguration -VMConfiguration $cfg)[0]",
              "$null = Set-SCVirtualNetworkAdapterConfiguration -VirtualNetworkAdapterConfiguration $nicConfig"
              + settings]
    return lines


def _connection(variable: str, nic: NICSpec) -> str:
    v = "$" + variable
    settings = f" -VMNetwork {v}Net -VMSubnet {v} -VLanEnabled ({v}Vlan -ne 0) -VLanID {v}Vlan"
    if nic.mac:
        settings += f" -MACAddress {quote(nic.mac)} -MACAddressType Static"
    return settings


def queue(index: int, nic: NICSpec) -> list[str]:
    """Lines that queue NIC `index` (not the first) for New-SCVirtualMachine's `$group`; a static one is allocated
    from its subnet's pool at once."""
    variable = f"nic{index}"
    static = " -IPv4AddressType Static" if nic.static else ""
    return [*subnet(variable, nic),
            f"$null = New-SCVirtualNetworkAdapter -JobGroup $group{_connection(variable, nic)}{static}"]


def add(nic: NICSpec) -> str:
    """A step (on `$v`) that adds a NIC at the end and sets `$job`."""
    static = " -IPv4AddressType Static" if nic.static else ""
    return "\n".join([*subnet("nicAdd", nic),
                      f"$null = New-SCVirtualNetworkAdapter -VM $v{_connection('nicAdd', nic)}{static} "
                      "-RunAsynchronously; $job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask"])


def _adapter(key: str, missing: str) -> list[str]:
    return [f"$a = @($v.VirtualNetworkAdapters | Where-Object {{ [string]$_.ID -eq {quote(key)} }})[0]",
            f"if ($null -eq $a) {{ {missing} }}"]


def change(key: str, nic: NICSpec) -> str:
    """A step (on `$v`) that moves adapter `key` to the NIC's network and VLAN (and MAC) and sets `$job`."""
    missing = f"throw {quote(f'network adapter {key} not found (Error ID: 801)')}"
    return "\n".join([*_adapter(key, missing), *subnet("nicSet", nic),
                      f"$null = Set-SCVirtualNetworkAdapter -VirtualNetworkAdapter $a{_connection('nicSet', nic)} "
                      "-RunAsynchronously; $job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask"])


def remove(key: str) -> str:
    """A step (on `$v`) that removes adapter `key` (gone already: nothing to do) and sets `$job`."""
    return "\n".join([*_adapter(key, "$a = $null"),
                      "if ($a) { $null = Remove-SCVirtualNetworkAdapter -VirtualNetworkAdapter $a -RunAsynchronously; "
                      "$job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask }"])
