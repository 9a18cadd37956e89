"""Get-SCOperatingSystem (all, or -ID): the guest operating systems VMM knows, a short list of its built-in names."""

from __future__ import annotations

import uuid
from typing import Any

from herder_dev.scvmm_sim.ps.binding import Invocation
from herder_dev.scvmm_sim.ps.values import Props, PSObject
from herder_dev.scvmm_sim.vmm.errors import NOT_FOUND, vmm_error

OPERATING_SYSTEM = "Microsoft.SystemCenter.VirtualMachineManager.OperatingSystem"
# (name, OSType): names as VMM lists them; "None" is what VMM gives a disk whose OS nobody set.
KNOWN = (
    ("None", "Unknown"),
    ("Windows Server 2019 Datacenter", "Windows"),
    ("Windows Server 2022 Datacenter", "Windows"),
    ("Windows Server 2022 Standard", "Windows"),
    ("Ubuntu Linux 20.04 (64 bit)", "Linux"),
    ("Ubuntu Linux 22.04 (64 bit)", "Linux"),
    ("Red Hat Enterprise Linux 9 (64 bit)", "Linux"),
    ("Other Linux (64 bit)", "Linux"),
)
_NAMESPACE = uuid.UUID("5c6bcd48-55a5-4e3f-9f57-3f3a3c0f2a77")  # IDs stay the same across restarts


def os_type(name: str) -> str:
    return next((kind for known, kind in KNOWN if known.lower() == name.lower()), "Unknown")


def view(name: str) -> PSObject:
    return PSObject(OPERATING_SYSTEM, Props({
        "Name": name, "ID": uuid.uuid5(_NAMESPACE, name), "Description": name, "OSType": os_type(name),
        "Architecture": "amd64" if name != "None" else None,
    }), display=name)


def name_of(value: PSObject) -> str:
    """The name of an OperatingSystem object a script passed in; 801 if it is not one VMM knows."""
    name = str(value.props["Name"])
    if not any(known.lower() == name.lower() for known, _ in KNOWN):
        raise vmm_error(NOT_FOUND, f"VMM cannot find the operating system {name}.")
    return name


def get(inv: Invocation) -> list[Any]:
    names = [name for name, _ in KNOWN]
    if inv.has("ID"):
        names = [n for n in names if uuid.uuid5(_NAMESPACE, n) == inv.get("ID")]
    return [view(n) for n in names]
