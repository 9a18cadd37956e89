"""Decisions about ServerQuotas: what a server or private image takes, whether a namespace can take more, and how
many more servers of a size fit. Pure: no I/O, no clock. The accounting that calls this one namespace at a time
lives in herder.controllers.shared.ledger.

What counts: a server takes one server, its vCPUs, memory and disks once it holds a VM or is making or adopting
one (its VM as observed, or what it asked for while that is being made or grown); an Image takes one image once
it holds a template or is making one. Admission only ever refuses growth: lowering a quota below what is in use
blocks the next create or resize, and never takes anything away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from herder.api import format_mib, quantity_to_bytes, quantity_to_mib
from herder.api.quota import QuotaLimits
from herder.providers.types import ObservedVM
from herder.reconcile.image import size_text

_RESIZE = "reconfigure"


@dataclass(frozen=True)
class Usage:
    """What one object (or a namespace, summed) takes."""

    servers: int = 0
    cpu: int = 0
    memory_mib: int = 0
    disk_bytes: int = 0
    images: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def most(self, other: Usage) -> Usage:
        """The larger of the two in every dimension."""
        return Usage(*(max(a, b) for a, b in zip(self._values(), other._values(), strict=True)))

    def times(self, count: int) -> Usage:
        return Usage(*(a * count for a in self._values()))

    def _values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def status(self) -> dict[str, Any]:
        """As ServerQuota status.used shows it."""
        return {"servers": self.servers, "cpu": self.cpu, "memory": format_mib(self.memory_mib),
                "disk": size_text(self.disk_bytes), "images": self.images}


def total(usages: Iterable[Usage]) -> Usage:
    result = Usage()
    for usage in usages:
        result += usage
    return result


@dataclass(frozen=True)
class Quota:
    """One ServerQuota's hard limits; None does not limit."""

    name: str
    servers: int | None = None
    cpu: int | None = None
    memory_mib: int | None = None
    disk_bytes: int | None = None
    images: int | None = None

    @classmethod
    def of(cls, name: str, hard: QuotaLimits) -> Quota:
        return cls(name, hard.servers, hard.cpu, hard.memory.mib if hard.memory is not None else None,
                   hard.disk.bytes if hard.disk is not None else None, hard.images)

    def limits(self) -> dict[str, int]:
        """{dimension: limit} of the dimensions this quota limits."""
        return {d: v for d in _DIMENSIONS if (v := getattr(self, d)) is not None}


# dimension -> (what a person calls it, how its amounts are written)
_DIMENSIONS: dict[str, tuple[str, Callable[[int], str]]] = {
    "servers": ("servers", str),
    "cpu": ("vCPUs", str),
    "memory_mib": ("memory", format_mib),
    "disk_bytes": ("disk", size_text),
    "images": ("images", str),
}


def admit(quotas: Sequence[Quota], used: Usage, held: Usage, wanted: Usage) -> str | None:
    """Why an object that holds `held` of the namespace's `used` may not grow to `wanted`; None when every quota
    allows it. Only growth is checked: a dimension that does not grow is never refused."""
    refusals = []
    for quota in quotas:
        over = []
        for dimension, limit in quota.limits().items():
            want, have, now = getattr(wanted, dimension), getattr(held, dimension), getattr(used, dimension)
            if want > have and now - have + want > limit:
                label, text = _DIMENSIONS[dimension]
                over.append(f"{label} {text(now)} in use + {text(want - have)} requested > {text(limit)} allowed")
        if over:
            refusals.append(f"ServerQuota {quota.name}: " + ", ".join(over))
    return "; ".join(refusals) or None


def refusal(quotas: Sequence[Quota], takes: Mapping[str, Usage], uid: str, wanted: Usage) -> str | None:
    """Why object `uid` may not grow to `wanted` when the namespace's objects take `takes` ({object UID: what it
    takes}); None when every quota allows it."""
    return admit(quotas, total(takes.values()), takes.get(uid, Usage()), wanted)


def room(quotas: Sequence[Quota], used: Usage, each: Usage) -> int | None:
    """How many more objects of size `each` fit on top of `used`; None when nothing limits them."""
    fits: list[int] = []
    for quota in quotas:
        for dimension, limit in quota.limits().items():
            step = getattr(each, dimension)
            if step > 0:
                fits.append(max(limit - getattr(used, dimension), 0) // step)
    return min(fits) if fits else None


def describe(quota: Quota, used: Usage) -> str:
    """`servers 3/5, vCPUs 6/10, ...` for the limited dimensions, and which of them are full or over."""
    parts, full = [], []
    for dimension, limit in quota.limits().items():
        label, text = _DIMENSIONS[dimension]
        now = getattr(used, dimension)
        parts.append(f"{label} {text(now)}/{text(limit)}")
        if now >= limit:
            full.append(label)
    note = f"; no more {', '.join(full)} (growth is refused)" if full else ""
    return ", ".join(parts) + note


# What the herder_quota_* metrics call each dimension, and how it converts to base units (bytes for sizes).
_METRIC = {"servers": ("servers", 1), "cpu": ("cpu", 1), "memory_mib": ("memory", 1024 * 1024),
           "disk_bytes": ("disk", 1), "images": ("images", 1)}


def metric_values(quota: Quota, used: Usage) -> tuple[dict[str, float], dict[str, float]]:
    """({resource: limit}, {resource: in use}) in base units, for the limited dimensions."""
    hard, in_use = {}, {}
    for dimension, limit in quota.limits().items():
        resource, scale = _METRIC[dimension]
        hard[resource] = float(limit * scale)
        in_use[resource] = float(getattr(used, dimension) * scale)
    return hard, in_use


# -- what one object takes ------------------------------------------------------------------------------------

def requested(spec: Mapping[str, Any], os_disk_bytes: int = 0) -> Usage:
    """What a server's spec asks for. `os_disk_bytes`: the OS disk when spec.disks.os.size leaves it to the image
    (or to the VM being adopted)."""
    disks = spec.get("disks") or {}
    os_size = (disks.get("os") or {}).get("size")
    data = sum(quantity_to_bytes(d["size"]) for d in disks.get("data") or ())
    return Usage(servers=1, cpu=int(spec.get("cpu") or 0), memory_mib=quantity_to_mib(spec.get("memory") or 0),
                 disk_bytes=(quantity_to_bytes(os_size) if os_size is not None else os_disk_bytes) + data)


def observed(vm: ObservedVM) -> Usage:
    """What a VM takes, as the backend reports it."""
    return Usage(servers=1, cpu=vm.cpu, memory_mib=vm.memory_mib, disk_bytes=sum(d.size_bytes for d in vm.disks))


def server_usage(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Usage:
    """What a server takes by its stored status (the ECS index): its VM as last observed (and what it asked for
    while a resize runs); what it asked for while its VM is being made; nothing before."""
    pending = (status.get("pendingTask") or {}).get("operation")
    if status.get("uniqueID"):
        disks = status.get("disks")
        seen = Usage(servers=1, cpu=int(status.get("cpu") or spec.get("cpu") or 0),
                     memory_mib=quantity_to_mib(status.get("memory") or spec.get("memory") or 0),
                     disk_bytes=sum(quantity_to_bytes(d["size"]) for d in disks) if disks
                     else requested(spec).disk_bytes)
        return seen.most(requested(spec)) if pending == _RESIZE else seen
    return requested(spec) if pending else Usage()


def image_usage(status: Mapping[str, Any]) -> Usage:
    """A private Image takes one image once it holds a template or is making one."""
    return Usage(images=1) if status.get("uniqueID") or status.get("pendingTask") else Usage()
