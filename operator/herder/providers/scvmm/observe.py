"""How a VM is read: one PowerShell projection (the small property set ObservedVM needs), and its
translation into an ObservedVM. servers.py and the inventory use the same projection.

Identity: the VMM custom property `HerderEcsUid` holds the ECS UID. VMs herder creates also carry
`herder-ecs-uid=<uid>` in their Description, set by New-SCVirtualMachine itself, so a VM is recognisable
even if herder stopped between creating it and setting the custom property.
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Mapping
from typing import Any

from herder.api.ecs import PowerState
from herder.providers.scvmm.scripts import quote
from herder.providers.types import ObservedDisk, ObservedNIC, ObservedVM

OWNER_PROPERTY = "HerderEcsUid"
DESCRIPTION_MARK = "herder-ecs-uid="
# The clone an image capture makes of an ECS's VM (see images.py): never that ECS's VM, even if VMM copied the
# custom property value to it.
CAPTURE_MARK = "herder-capture-uid="
# Data disks are created as "<vm name>_herder_<disk name>.vhdx"; the name is read back from the file. A disk a VM
# got from its template keeps the template's file name, which names another VM: it is not one of this VM's.
DISK_INFIX = "_herder_"
_DESCRIPTION_UID = re.compile(re.escape(DESCRIPTION_MARK) + r"(\S+)")

_POWER = {
    "Running": PowerState.ON,
    "Starting": PowerState.ON,
    "Restoring": PowerState.ON,
    "Saved": PowerState.SUSPENDED,
    "Saving": PowerState.SUSPENDED,
    "Paused": PowerState.SUSPENDED,
    "Pausing": PowerState.SUSPENDED,
}
# States in which VMM is still changing the VM: the planner waits rather than acting.
_BUSY = frozenset(
    {"UnderCreation", "UnderUpdate", "UnderMigration", "UnderTemplateCreation", "Starting", "Stopping",
     "PoweringOff", "Saving", "Restoring", "Pausing", "Deleting", "MergingDrives", "DiscardingDrives"}
)

# `$v` is a VMM VM object. Every value is cast, so that enums arrive as names and nothing is left live.
PROJECTION = (
    "[pscustomobject]@{ id = [string]$v.ID; name = [string]$v.Name; status = [string]$v.Status; "
    "cpu = [int]$v.CPUCount; memory = [int]$v.Memory; dynamic = [bool]$v.DynamicMemoryEnabled; "
    f"owner = [string]$v.CustomProperty[{quote(OWNER_PROPERTY)}]; description = [string]$v.Description; "
    "host = [string]$v.HostName; cloud = [string]$v.Cloud.Name; location = [string]$v.Location; "
    "computer = [string]$v.ComputerName; os = [string]$v.OperatingSystem; "
    "ips = @($v.VirtualNetworkAdapters | ForEach-Object { $_.IPv4Addresses }); generation = [int]$v.Generation; "
    "nics = @($v.VirtualNetworkAdapters | Sort-Object SlotId | ForEach-Object { [pscustomobject]@{ "
    "id = [string]$_.ID; network = [string]$_.VMNetwork.Name; vlan = [int]$_.VLanID; mac = [string]$_.MACAddress; "
    "ips = @($_.IPv4Addresses) } }); "
    "disks = @($v.VirtualDiskDrives | ForEach-Object { [pscustomobject]@{ id = [string]$_.ID; "
    "file = [string]$_.VirtualHardDisk.Name; bytes = [int64]$_.VirtualHardDisk.MaximumSize; "
    "boot = ([string]$_.VolumeType -like '*Boot*') } }); "
    "checkpoints = @($v.VMCheckpoints | ForEach-Object { [string]$_.ID }) }"
)


def owned(uid: str | None = None) -> str:
    """A condition on `$v`: marked by herder (for ECS `uid`, or for any ECS), and not a capture's clone."""
    clone = f"[string]$v.Description -notlike {quote('*' + CAPTURE_MARK + '*')}"
    if uid is None:
        return (f"({clone} -and ([string]$v.CustomProperty[{quote(OWNER_PROPERTY)}] -ne '' -or "
                f"[string]$v.Description -like {quote('*' + DESCRIPTION_MARK + '*')}))")
    return (f"({clone} -and ([string]$v.CustomProperty[{quote(OWNER_PROPERTY)}] -eq {quote(uid)} -or "
            f"[string]$v.Description -like {quote('*' + DESCRIPTION_MARK + uid + '*')}))")


def project_all(condition: str, source: str = "Get-SCVirtualMachine -All") -> str:
    """`$result` = the projection of every VM from `source` that meets `condition`."""
    return f"$result = @(foreach ($v in @({source})) {{ if ({condition}) {{ {PROJECTION} }} }})"


def description_owner(description: str) -> str | None:
    found = _DESCRIPTION_UID.search(description or "")
    return found.group(1) if found else None


def disk_name(file_name: str, vm_name: str) -> str | None:
    """The data disk name herder gave the file when it made it for VM `vm_name`; None for any other file."""
    prefix = vm_name + DISK_INFIX
    if not file_name.lower().startswith(prefix.lower()) or not file_name.lower().endswith(".vhdx"):
        return None
    return file_name[len(prefix):-len(".vhdx")] or None


def _disks(rows: Any, vm_name: str) -> tuple[ObservedDisk, ...]:
    disks: list[ObservedDisk] = []
    for row in rows or ():
        boot = bool(row.get("boot"))
        disks.append(
            ObservedDisk(
                key=str(row["id"]),
                size_bytes=int(row.get("bytes") or 0),
                name=None if boot else disk_name(str(row.get("file") or ""), vm_name),
                is_os_disk=boot,
            )
        )
    return tuple(disks)


def to_server(row: Mapping[str, Any]) -> ObservedVM:
    status = str(row.get("status") or "")
    owner = str(row.get("owner") or "") or description_owner(str(row.get("description") or ""))
    return ObservedVM(
        unique_id=str(row["id"]),
        ref=str(row["id"]),
        name=str(row.get("name") or ""),
        power=_POWER.get(status, PowerState.OFF),
        cpu=int(row.get("cpu") or 0),
        memory_mib=int(row.get("memory") or 0),
        owner_uid=owner or None,
        disks=_disks(row.get("disks"), str(row.get("name") or "")),
        host=str(row.get("host") or "") or None,
        # The storage path it was placed under (or moved to): its files are in a folder of its own below it.
        datastore=ntpath.dirname(str(row.get("location") or "").rstrip("\\")) or None,
        resource_pool=str(row.get("cloud") or "") or None,
        ip_addresses=tuple(str(ip) for ip in row.get("ips") or () if ip),
        nics=tuple(ObservedNIC(key=str(n["id"]), network=str(n.get("network") or "") or None,
                               mac=str(n.get("mac") or "").upper() or None, vlan=int(n.get("vlan") or 0) or None,
                               addresses=tuple(str(ip) for ip in n.get("ips") or () if ip))
                   for n in row.get("nics") or ()),
        hostname=str(row.get("computer") or "") or None,  # the guest's name as VMM knows it
        guest_os=str(row.get("os") or "") or None,
        cpu_hot_add=False,  # Hyper-V changes the CPU count only while the VM is off
        memory_hot_add=bool(row.get("dynamic")),
        # Hyper-V adds and removes NICs of a running VM of generation 2 only, and changes a MAC only when it is off.
        nic_hot_plug=int(row.get("generation") or 0) == 2, mac_hot_change=False,
        busy=status in _BUSY,
        snapshots=frozenset(str(c) for c in row.get("checkpoints") or () if c),
    )
