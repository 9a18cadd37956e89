"""Resource pools on SCVMM: a private cloud per ResourcePool, scoped to the zone's host group, its capacity
(Set-SCCloudCapacity) set from the pool's limits and changed in place; usage from Get-SCCloudUsage.

VMM clouds do not nest: the planner keeps a child's limits within its parent's before they get here. A cloud
carries `herder-resourcepool-uid=<uid>` in its Description, so a create that ran before a crash is found by
name and taken up, and a cloud of the same name that herder did not make is never taken over (Conflict). A new
cloud gets its capacity in the same job group as New-SCCloud: it never exists unlimited.
"""

from __future__ import annotations

from typing import Any

from herder.errors import Conflict, InUse, ProviderError
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.scope import host_groups
from herder.providers.scvmm.scripts import is_guid, quote
from herder.providers.types import Allocation, Counts, ObservedPool, PoolSpec, PoolUsage, SCVMMPlacement

MARK = "herder-resourcepool-uid="
# (Set-SCCloudCapacity's value parameter, its Use...Maximum switch, the Counts field, the usage property)
DIMENSIONS = (
    ("VMCount", "UseVMCountMaximum", "servers", "VMUsageCount"),
    ("CPUCount", "UseCPUCountMaximum", "vcpus", "CPUUsageCount"),
    ("MemoryMB", "UseMemoryMBMaximum", "memory_mib", "MemoryUsageMB"),
    ("StorageGB", "UseStorageGBMaximum", "storage_gib", "StorageUsageGB"),
)

# `$c` is the cloud: its identity, capacity and usage, every value cast.
_PROJECTION = (
    "$cap = Get-SCCloudCapacity -Cloud $c\n$use = Get-SCCloudUsage -Cloud $c\n"
    "$result = @{ id = [string]$c.ID; name = [string]$c.Name; description = [string]$c.Description; "
    "limits = @{ " + "; ".join(f"{value} = [long]$cap.{value}; {unlimited} = [bool]$cap.{unlimited}"
                               for value, unlimited, _, _ in DIMENSIONS) + " }; "
    "used = @{ " + "; ".join(f"{usage} = [long]$use.{usage}" for _, _, _, usage in DIMENSIONS) + " } }"
)


def capacity_arguments(limits: Counts) -> str:
    """Set-SCCloudCapacity's arguments for `limits`: a value and $false to limit, $true for unlimited."""
    parts = []
    for value, unlimited, key, _ in DIMENSIONS:
        limit = getattr(limits, key)
        parts.append(f"-{unlimited} $true" if limit is None else f"-{value} {int(limit)} -{unlimited} $false")
    return " ".join(parts)


def _counts(values: dict[str, Any], *, limits: bool) -> Counts:
    found: dict[str, int | None] = {}
    for value, unlimited, key, usage in DIMENSIONS:
        if limits:
            found[key] = None if values.get(unlimited) else int(values.get(value) or 0)
        else:
            found[key] = int(values.get(usage) or 0)
    return Counts(**found)


def to_pool(row: dict[str, Any]) -> ObservedPool:
    limits, used = _counts(row["limits"], limits=True), _counts(row["used"], limits=False)
    memory_free = None if limits.memory_mib is None else max(limits.memory_mib - (used.memory_mib or 0), 0)
    return ObservedPool(
        ref=str(row["id"]), name=str(row["name"]), path=str(row["name"]),
        cpu=Allocation(), memory=Allocation(limit=limits.memory_mib),
        vms=used.servers or 0, memory_usage=PoolUsage(available=memory_free, usage=used.memory_mib),
        limits=limits, used=used,
    )


class SCVMMPools:
    """The `Pools` protocol on one SCVMM: one cloud per ResourcePool."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        where = spec.parent
        if not isinstance(where, SCVMMPlacement) or not (where.host_group or where.cloud):
            raise ProviderError(f"cloud {spec.name}: an SCVMM pool needs a zone with a host group or a cloud")
        mark = MARK + spec.uid
        wanted = capacity_arguments(spec.limits)
        lines = ["$c = $null"]
        if known_ref and is_guid(known_ref):
            lines.append(f"$c = Get-SCCloud -ID {quote(known_ref)}")
        lines += [
            f"if ($null -eq $c) {{ $c = Get-SCCloud -Name {quote(spec.name)} }}",
            f"if ($c -and [string]$c.Description -notlike {quote('*' + mark + '*')}) "
            "{ $result = @{ foreign = [string]$c.Description } }",
            "else {",
            "if ($null -eq $c) {",
            *host_groups(where),
            "$group = [guid]::NewGuid()",
            f"$null = Set-SCCloudCapacity -JobGroup $group {wanted}",
            f"$c = New-SCCloud -Name {quote(spec.name)} -VMHostGroup $groups -Description {quote(mark)} "
            "-JobGroup $group",
            "} else {",
            "$cap = Get-SCCloudCapacity -Cloud $c",
            # Only a capacity that differs is written: at steady state an ensure changes nothing.
            "$same = " + " -and ".join(self._same(spec.limits)),
            f"if (-not $same) {{ $null = Set-SCCloudCapacity -CloudCapacity $cap {wanted} }}",
            "}",
            _PROJECTION,
            "}",
        ]
        found = self._driver.run("pool", f"create or update cloud {spec.name}", "\n".join(lines))
        if "foreign" in found:
            raise Conflict(f"a VMM cloud named {spec.name!r} exists that herder did not make for this ResourcePool "
                           f"(its Description is {found['foreign']!r}); rename one of them")
        return to_pool(found)

    @staticmethod
    def _same(limits: Counts) -> list[str]:
        checks = []
        for value, unlimited, key, _ in DIMENSIONS:
            limit = getattr(limits, key)
            checks.append(f"[bool]$cap.{unlimited}" if limit is None
                          else f"(-not [bool]$cap.{unlimited} -and [long]$cap.{value} -eq {int(limit)})")
        return checks

    def observe(self, ref: str) -> ObservedPool | None:
        if not is_guid(ref):
            return None
        body = f"$c = Get-SCCloud -ID {quote(ref)}\nif ($c) {{\n{_PROJECTION}\n}}"
        found = self._driver.run("pool", f"read cloud {ref}", body)
        return to_pool(found) if found else None

    def delete(self, ref: str) -> None:
        if not is_guid(ref):
            return
        body = "\n".join([
            f"$c = Get-SCCloud -ID {quote(ref)}",
            "if ($c) { $placed = @(Get-SCVirtualMachine -Cloud $c)",
            "if ($placed.Count -gt 0) { $result = @{ name = [string]$c.Name; vms = $placed.Count } }",
            "else { $null = Remove-SCCloud -Cloud $c } }",
        ])
        found = self._driver.run("pool", f"delete cloud {ref}", body)
        if found:
            raise InUse(f"cloud {found['name']} still holds {found['vms']} VM(s); move or delete them first")
