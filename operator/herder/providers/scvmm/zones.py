"""What an SCVMM zone's placement stands for: its host group (or cloud) exists, and its hosts' capacity.

One script per check. A host counts when VMM can place VMs on it: responding, and available for placement.
VMM reports TotalMemory in bytes and AvailableMemory in MB, and no processor speed in this projection, so
CPU is counted in logical processors only. A cloud-only zone is checked but not measured: a cloud's
capacity is a quota across host groups, not hosts of its own.
"""

from __future__ import annotations

from typing import Any

from herder.errors import ProviderError
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.scope import host_groups
from herder.providers.scvmm.scripts import find_cloud, find_host_group, quote
from herder.providers.types import Placement, SCVMMPlacement, ZoneCapacity, ZoneMembers

_MIB = 1024 * 1024
_HOSTS = (
    "$result = @{ id = $id; hosts = @(foreach ($h in $hosts) { @{ responding = [string]$h.CommunicationState; "
    "placeable = [bool]$h.AvailableForPlacement; cpus = [int]$h.LogicalCPUCount; total = [long]$h.TotalMemory; "
    "free = [long]$h.AvailableMemory } }) }"
)


def capacity_of(ref: str, hosts: list[dict[str, Any]]) -> ZoneCapacity:
    usable = [h for h in hosts if h.get("responding") == "Responding" and h.get("placeable")]
    total_mib = sum(int(h.get("total") or 0) for h in usable) // _MIB
    free_mib = sum(int(h.get("free") or 0) for h in usable)
    return ZoneCapacity(ref=ref, hosts=len(usable), cpus=sum(int(h.get("cpus") or 0) for h in usable),
                        memory_mib=total_mib, memory_used_mib=max(total_mib - free_mib, 0))


class SCVMMZones:
    """The `Zones` protocol on one SCVMM."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def capacity(self, where: Placement) -> ZoneCapacity | None:
        if not isinstance(where, SCVMMPlacement):
            raise ProviderError("an SCVMM zone needs an SCVMM placement")
        lines: list[str] = []
        if where.cloud:
            lines += find_cloud("cloud", where.cloud)
            lines.append("$id = [string]$cloud.ID")
        if where.host_group:
            lines += find_host_group("hg", where.host_group)
            lines += ["$id = [string]$hg.ID", "$hosts = @(Get-SCVMHost -VMHostGroup $hg)", _HOSTS]
        else:
            lines.append("$result = @{ id = $id }")
        found = self._driver.run("zone", f"read zone {where.host_group or where.cloud}", "\n".join(lines))
        if "hosts" not in found:
            return None
        return capacity_of(str(found["id"]), list(found["hosts"] or ()))

    def members(self, where: Placement) -> ZoneMembers:
        if not isinstance(where, SCVMMPlacement):
            raise ProviderError("an SCVMM zone needs an SCVMM placement")
        roots = f"@({quote(where.vm_path)})" if where.vm_path else "@()"
        lines = [*host_groups(where), "$zoneHosts = @(foreach ($g in $groups) { Get-SCVMHost -VMHostGroup $g })",
                 "$result = @{ hosts = @(foreach ($x in $zoneHosts) { [string]$x.Name }); "
                 f"storage = @({roots} + @(foreach ($x in $zoneHosts) {{ @($x.VMPaths) }}) | "
                 "ForEach-Object { [string]$_ }) }"]
        found = self._driver.run("zone", f"read the hosts and paths of zone {where.host_group or where.cloud}",
                                 "\n".join(lines))
        return ZoneMembers(hosts=tuple(str(h) for h in found.get("hosts") or ()),
                           storage=tuple(str(p) for p in found.get("storage") or ()))
