"""Chargeback, durably: what one server has used, as `status.metering` records it. Pure: `now` is given.

A record holds what was accrued up to `since` (a wall-clock time) and the size and power the server has had
since then. Between two observations the size and power are taken to hold, so the record is exact as long as
every change is observed; and because `since` is durable, time while herder was down is billed when it comes
back. The record changes only when the observed size or power changes: at steady state nothing is written.
vCPU and memory accrue while the server runs; disk for as long as it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Size:
    vcpus: int
    memory_bytes: int
    disk_bytes: int
    running: bool


@dataclass(frozen=True)
class Usage:
    vcpu_seconds: float = 0.0
    memory_byte_seconds: float = 0.0
    disk_byte_seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.vcpu_seconds + other.vcpu_seconds, self.memory_byte_seconds + other.memory_byte_seconds,
                     self.disk_byte_seconds + other.disk_byte_seconds)

    def to_k8s(self) -> dict[str, float]:
        return {"vcpuSeconds": round(self.vcpu_seconds, 3), "memoryByteSeconds": round(self.memory_byte_seconds),
                "diskByteSeconds": round(self.disk_byte_seconds)}

    @classmethod
    def from_k8s(cls, data: dict[str, Any]) -> Usage:
        return cls(float(data.get("vcpuSeconds", 0)), float(data.get("memoryByteSeconds", 0)),
                   float(data.get("diskByteSeconds", 0)))


@dataclass(frozen=True)
class Record:
    since: datetime
    size: Size
    accrued: Usage = Usage()

    def at(self, now: datetime) -> Usage:
        """Everything used up to `now`."""
        return self.accrued + accrual(self.size, (now - self.since).total_seconds())


def accrual(size: Size, seconds: float) -> Usage:
    elapsed = max(seconds, 0.0)  # a clock going backwards never un-bills
    running = elapsed if size.running else 0.0
    return Usage(size.vcpus * running, size.memory_bytes * running, size.disk_bytes * elapsed)


def observe(previous: Record | None, size: Size, now: datetime) -> Record:
    """The record after observing `size` at `now`: unchanged while the size is the same."""
    if previous is None:
        return Record(now, size)
    if previous.size == size:
        return previous
    return replace(previous, since=now, size=size, accrued=previous.at(now))


def to_status(record: Record) -> dict[str, Any]:
    return {"since": record.since.isoformat(), "vcpus": record.size.vcpus, "memoryBytes": record.size.memory_bytes,
            "diskBytes": record.size.disk_bytes, "running": record.size.running,
            "accrued": record.accrued.to_k8s()}


def from_status(data: dict[str, Any] | None) -> Record | None:
    if not data or "since" not in data:
        return None
    size = Size(int(data.get("vcpus", 0)), int(data.get("memoryBytes", 0)), int(data.get("diskBytes", 0)),
                bool(data.get("running")))
    return Record(datetime.fromisoformat(str(data["since"])), size, Usage.from_k8s(data.get("accrued") or {}))
