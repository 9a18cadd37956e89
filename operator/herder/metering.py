"""Chargeback metering: integrate each server's size over time into per-namespace, per-zone counters.

Controllers call `Metering.update` whenever they observe a server and `Metering.forget` when it is gone.
Between two observations the previous size and power state are assumed to hold (a left Riemann sum), so
the counters are exact as long as every change is observed, and at worst off by one observation interval.
vCPU and memory accrue only while the server runs; disk accrues for as long as the server is tracked,
because storage is consumed whether or not the VM is powered on.

Totals are kept per (namespace, zone), not per server: a counter must never go down, so what a deleted
server accrued stays in its namespace's total. The process-local totals restart at zero with the
operator, which Prometheus' `rate()`/`increase()` treat as an ordinary counter reset.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

Clock = Callable[[], float]


@dataclass
class _Entry:
    namespace: str
    zone: str
    vcpus: float
    memory_bytes: float
    disk_bytes: float
    running: bool
    since: float


@dataclass
class Usage:
    """Accrued totals of one (namespace, zone)."""

    vcpu_seconds: float = 0.0
    memory_byte_seconds: float = 0.0
    disk_byte_seconds: float = 0.0


class Metering:
    """Thread-safe accumulator; the metrics HTTP server reads it from another thread."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        # Monotonic by default: wall-clock jumps (NTP) must not create or destroy billed time.
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self._totals: dict[tuple[str, str], Usage] = {}

    def update(  # noqa: PLR0917 - the controllers' call shape, positional for short call sites
            self, key: Hashable, namespace: str, zone: str, vcpus: float, memory_bytes: float,
            disk_bytes: float, running: bool) -> None:
        """Record the current size and power state of one server (key: e.g. its (namespace, name) or UID)."""
        with self._lock:
            now = self._clock()
            previous = self._entries.get(key)
            if previous is not None:
                self._accrue(previous, now)
            self._entries[key] = _Entry(namespace, zone, max(vcpus, 0.0), max(memory_bytes, 0.0),
                                        max(disk_bytes, 0.0), running, now)

    def forget(self, key: Hashable) -> None:
        """The server is gone: bill it up to now, then stop accruing."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._accrue(entry, self._clock())

    def flush(self) -> dict[tuple[str, str], Usage]:
        """Accrue every tracked server up to now and return a copy of the totals by (namespace, zone)."""
        with self._lock:
            now = self._clock()
            for entry in self._entries.values():
                self._accrue(entry, now)
            return {key: Usage(u.vcpu_seconds, u.memory_byte_seconds, u.disk_byte_seconds)
                    for key, u in self._totals.items()}

    def tracked(self) -> int:
        with self._lock:
            return len(self._entries)

    def _accrue(self, entry: _Entry, now: float) -> None:
        elapsed = max(now - entry.since, 0.0)  # an injected clock going backwards must not un-bill
        entry.since = now
        usage = self._totals.setdefault((entry.namespace, entry.zone), Usage())
        if entry.running:
            usage.vcpu_seconds += entry.vcpus * elapsed
            usage.memory_byte_seconds += entry.memory_bytes * elapsed
        usage.disk_byte_seconds += entry.disk_bytes * elapsed


class MeteringCollector(Collector):
    """Exposes a `Metering` as counters, flushing it on every scrape so the values are current."""

    def __init__(self, metering: Metering) -> None:
        self._metering = metering

    def describe(self) -> Iterator[CounterMetricFamily]:
        # Without describe() the registry would call collect() at registration time.
        yield from self._families()

    def collect(self) -> Iterator[CounterMetricFamily]:
        totals = self._metering.flush()
        vcpu, memory, disk = self._families()
        for (namespace, zone), usage in sorted(totals.items()):
            vcpu.add_metric([namespace, zone], usage.vcpu_seconds)
            memory.add_metric([namespace, zone], usage.memory_byte_seconds)
            disk.add_metric([namespace, zone], usage.disk_byte_seconds)
        yield from (vcpu, memory, disk)

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        labels = ["namespace", "zone"]
        return (
            CounterMetricFamily("herder_ecs_vcpu_seconds",
                                "vCPU-seconds of running servers (vCPUs x seconds powered on)", labels=labels),
            CounterMetricFamily("herder_ecs_memory_byte_seconds",
                                "Memory byte-seconds of running servers (bytes x seconds powered on)",
                                labels=labels),
            CounterMetricFamily("herder_ecs_disk_byte_seconds",
                                "Disk byte-seconds of existing servers (provisioned bytes x seconds)",
                                labels=labels),
        )
