"""Chargeback metering: per-namespace, per-zone counters of vCPU-, memory- and disk-seconds, exact across
operator restarts and downtime.

Each live server's use comes from its durable record (`status.metering`, see herder.reconcile.metering):
what it accrued up to a wall-clock time, and the size and power it has had since. What deleted servers used
is kept durably too (the ConfigMap `herder-metering` in the operator's namespace, folded in once per server
by its deletion, see herder.controllers.ecs.billing) and loaded at start-up. A counter is their sum at scrape
time, so it carries on across a restart instead of starting again at zero, and the time herder was down is
billed when it comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from herder.reconcile.metering import Record, Usage

Clock = Callable[[], datetime]
Where = tuple[str, str]  # (namespace, zone)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Live:
    where: Where
    record: Record


class Metering:
    """Thread-safe; the metrics HTTP server reads it from another thread."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._live: dict[Hashable, _Live] = {}
        self._deleted: dict[Where, Usage] = {}

    def load_deleted(self, totals: dict[Where, Usage]) -> None:
        """What servers deleted before this process started used (from the durable store)."""
        with self._lock:
            self._deleted = dict(totals)

    def update(self, key: Hashable, namespace: str, zone: str, record: Record) -> None:
        """The durable record of one live server (key: its UID), as its status now says."""
        with self._lock:
            self._live[key] = _Live((namespace, zone), record)

    def forget(self, key: Hashable) -> None:
        """The server is no longer tracked here (its deletion folded its use into the deleted totals)."""
        with self._lock:
            self._live.pop(key, None)

    def deleted(self, namespace: str, zone: str, usage: Usage) -> None:
        with self._lock:
            where = (namespace, zone)
            self._deleted[where] = self._deleted.get(where, Usage()) + usage

    def flush(self) -> dict[Where, Usage]:
        """Totals by (namespace, zone) up to now."""
        with self._lock:
            now = self._clock()
            totals = dict(self._deleted)
            for live in self._live.values():
                totals[live.where] = totals.get(live.where, Usage()) + live.record.at(now)
            return totals

    def tracked(self) -> int:
        with self._lock:
            return len(self._live)


class MeteringCollector(Collector):
    """Exposes a `Metering` as counters, computed at every scrape so the values are current."""

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
