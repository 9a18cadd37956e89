"""Cloud capacity: the limits of a private cloud, what its VMs use, and admission against them.

Sources: Set-SCCloudCapacity and Get-SCCloudUsage in the VMM cmdlet reference, and the CloudCapacity entity of
the SPF/VMM reference. Five dimensions (virtual machines, virtual CPUs, memory MB, storage GB, custom quota
points), each with a value and a Use...Maximum flag that, when true, enforces no limit. A new cloud's capacity
is unlimited in every dimension.

The docs are silent on some points; the simulator's choices:
- Setting a value leaves its Use...Maximum flag as it was: a limit applies once the flag is $false.
- Every VM placed in the cloud counts, whatever its state. Memory is the VM's memory (MB), storage the
  maximum size of its virtual disks. Custom quota points are not modelled: a VM uses none.
- A limit lowered below the current usage is accepted; it refuses what would add to the usage.
"""

from __future__ import annotations

import uuid
from typing import Any

from herder_dev.scvmm_sim.vmm.errors import vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store

# Not in Microsoft's public docs (the VMM error catalogue is not published); the simulator's choice.
CAPACITY_EXCEEDED = 13252

# (the cmdlet's value parameter, its Use...Maximum switch, the record key, the usage property)
DIMENSIONS = (
    ("VMCount", "UseVMCountMaximum", "vm_count", "VMUsageCount"),
    ("CPUCount", "UseCPUCountMaximum", "cpu_count", "CPUUsageCount"),
    ("MemoryMB", "UseMemoryMBMaximum", "memory_mb", "MemoryUsageMB"),
    ("StorageGB", "UseStorageGBMaximum", "storage_gb", "StorageUsageGB"),
    ("CustomQuotaCount", "UseCustomQuotaCountMaximum", "custom_quota_count", "CustomQuotaUsageCount"),
)
_WHAT = {"vm_count": "virtual machine", "cpu_count": "virtual CPU", "memory_mb": "memory (MB)",
         "storage_gb": "storage (GB)", "custom_quota_count": "custom quota"}


def limits(cloud: Record) -> dict[str, dict[str, Any]]:
    """{key: {"value": n, "unlimited": bool}} for each dimension; unlimited unless set otherwise."""
    stored = cloud.get("capacity", {})
    return {key: {"value": 0, "unlimited": True, **stored.get(key, {})} for _, _, key, _ in DIMENSIONS}


def capacity_id(cloud: Record) -> str:
    """A CloudCapacity's ID, stable for its cloud."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"scvmm-sim:cloud-capacity:{cloud['id']}"))


def demand(vm: Record) -> dict[str, float]:
    """What one VM (or a VM-shaped change of one) uses of a cloud."""
    return {"vm_count": 1, "cpu_count": vm["cpu_count"], "memory_mb": vm["memory_mb"],
            "storage_gb": sum(d["size_mb"] for d in vm["disks"]) / 1024, "custom_quota_count": 0}


def usage(store: Store, cloud_id: str) -> dict[str, float]:
    total = {key: 0.0 for _, _, key, _ in DIMENSIONS}
    for vm in store.all("vms"):
        if vm.get("cloud") == cloud_id:
            for key, amount in demand(vm).items():
                total[key] += amount
    return total


def admit(store: Store, cloud: Record, adding: dict[str, float], removing: dict[str, float] | None = None) -> None:
    """Refuse, with VMM's error, a change that would take a limited dimension of the cloud over its limit."""
    used = usage(store, cloud["id"])
    for key, limit in limits(cloud).items():
        grows = adding[key] - (removing or {}).get(key, 0)
        if limit["unlimited"] or grows <= 0 or used[key] + grows <= limit["value"]:
            continue
        raise vmm_error(CAPACITY_EXCEEDED, f"The operation would exceed the {_WHAT[key]} capacity of cloud "
                                           f"{cloud['name']}: {used[key]:g} used, {grows:g} more requested, "
                                           f"{limit['value']} allowed.")


def admit_change(store: Store, vm: Record, changes: dict[str, Any]) -> None:
    """Admission for a VM that changes size (cpu_count, memory_mb, disks) within its cloud."""
    cloud = store.find("clouds", vm["cloud"]) if vm.get("cloud") else None
    if cloud is not None:
        admit(store, cloud, demand({**vm, **changes}), demand(vm))
