"""Script lines that pin a VM inside its zone: the zone's host groups and hosts, a pinned host found and checked
to be one of them, a pinned storage path checked to lie under the zone's vmPath or one of its hosts' placement
paths (VMPaths). A target outside the zone sets `$outside` to the reason; the caller answers with it instead of
acting, and raises OutsideZone.
"""

from __future__ import annotations

from herder.providers.scvmm.scripts import find_cloud, find_host_group, quote
from herder.providers.types import SCVMMPlacement


def host_groups(where: SCVMMPlacement) -> list[str]:
    """Lines that set `$groups` to the zone's host groups: its host group, else those of its cloud."""
    if where.host_group:
        return [*find_host_group("hg", where.host_group), "$groups = @($hg)"]
    return [*find_cloud("zc", where.cloud or ""),
            "$names = @($zc.HostGroup | ForEach-Object { [string]$_ })",
            "$groups = @(Get-SCVMHostGroup | Where-Object { $names -contains $_.Name })",
            f"if ($groups.Count -eq 0) {{ throw {quote(f'cloud {where.cloud!r} has no host group (Error ID: 801)')} }}"]


def checked(where: SCVMMPlacement, host: str | None, storage: str | None) -> list[str]:
    """Lines that set `$h` to the pinned host (if any) and `$outside` to why a target is not the zone's ($null
    when both are)."""
    zone = where.host_group or where.cloud or ""
    lines = ["$outside = $null", "$h = $null"]
    if not (host or storage):
        return lines
    lines += [*host_groups(where), "$zoneHosts = @(foreach ($g in $groups) { Get-SCVMHost -VMHostGroup $g })"]
    if host:
        missing = quote(f"host {host!r}: found ")
        lines += [
            f"$h = @(Get-SCVMHost -ComputerName {quote(host)})",
            f"if ($h.Count -ne 1) {{ throw {missing} + $h.Count + ' hosts (Error ID: 801)' }}",
            "$h = $h[0]",
            "if (@($zoneHosts | Where-Object { [string]$_.ID -eq [string]$h.ID }).Count -eq 0) { "
            f"$outside = {quote(f'host {host} is not in the host group of zone placement {zone}')} }}",
        ]
    if storage:
        roots = f"@({quote(where.vm_path)})" if where.vm_path else "@()"
        lines += [
            f"$roots = {roots} + @(foreach ($x in $zoneHosts) {{ @($x.VMPaths) }})",
            f"$want = {quote(storage)}.TrimEnd('\\').ToLower()",
            "$under = @($roots | Where-Object { $r = ([string]$_).TrimEnd('\\').ToLower(); "
            "$want -eq $r -or $want.StartsWith($r + '\\') })",
            "if ($null -eq $outside -and $under.Count -eq 0) { "
            f"$outside = {quote(f'storage path {storage} is not under ')} + (@($roots) -join ', ') + "
            f"{quote(', the paths of zone placement ' + zone)} }}",
        ]
    return lines
