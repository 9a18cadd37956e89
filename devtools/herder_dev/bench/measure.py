"""What every benchmark mode measures the same way: percentiles, memory per server, counter deltas, a process's
CPU and memory from /proc, herder's backend calls from its /metrics and Kubernetes writes from the API server's."""

from __future__ import annotations

import math
import os
import statistics
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:  # the traced operator imports this module: keep the test world's imports out of it
    from herder_dev.stack import StackState

GROUP = "herder.dev"
# Where the traced operator (traced_operator.py) writes its allocation sites and loop lag on SIGUSR2.
PROFILE_ENV = "HERDER_BENCH_PROFILE"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
MIB = 1 << 20


def percentile(values: Iterable[float], fraction: float) -> float:
    """The `fraction` quantile (0 < fraction < 1) of `values`, interpolated between the two nearest values
    (statistics' inclusive method); NaN without values."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    cut = round(fraction * 1000)
    if not 0 < cut < 1000:
        raise ValueError(f"fraction must lie strictly between 0 and 1, not {fraction}")
    return statistics.quantiles(data, n=1000, method="inclusive")[cut - 1]


def lag_summary(lateness_seconds: Iterable[float]) -> dict[str, float]:
    """How late a periodic probe of the asyncio loop woke up: samples, p50, p99 and max, in milliseconds."""
    data = list(lateness_seconds)
    return {"samples": len(data), "p50_ms": percentile(data, 0.5) * 1000, "p99_ms": percentile(data, 0.99) * 1000,
            "max_ms": max(data, default=math.nan) * 1000}


def top_growth(before: Mapping[str, int], after: Mapping[str, int], limit: int) -> list[tuple[str, int]]:
    """The `limit` allocation sites whose bytes grew most from `before` to `after` (sites that did not grow are
    left out), largest first."""
    grown = ((site, size - before.get(site, 0)) for site, size in after.items())
    return sorted((item for item in grown if item[1] > 0), key=lambda item: (-item[1], item[0]))[:limit]


def bytes_per_server(rss_before: int, rss_after: int, servers: int) -> float:
    """What each server added to the operator's resident memory: the growth from just before the apply
    (connected, nothing created) to all servers Ready and idle, shared out. Negative when memory was returned."""
    if servers <= 0:
        raise ValueError(f"servers must be positive, not {servers}")
    return (rss_after - rss_before) / servers


def delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """The growth of each counter between two readings; counters that did not move are left out."""
    return {key: value - before.get(key, 0.0) for key, value in sorted(after.items())
            if value - before.get(key, 0.0)}


def per_minute(count: float, seconds: float) -> float:
    return count * 60 / seconds


# -- a process, from /proc ------------------------------------------------------------------------------------

def cpu_seconds_of(stat: str, clock_ticks: int) -> float:
    """User plus system CPU time from the text of /proc/PID/stat (the command name may hold spaces and ')')."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks


def status_bytes(status: str, field: str) -> int:
    """A memory line of /proc/PID/status (`VmRSS`, `VmHWM`, ...), in bytes."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            number, unit = value.split()
            if unit != "kB":
                raise ValueError(f"{field}: unexpected unit {unit!r}")
            return int(number) * 1024
    raise ValueError(f"no {field} in /proc/PID/status")


def cpu_seconds(pid: int) -> float:
    return cpu_seconds_of(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def rss(pid: int) -> int:
    return status_bytes(Path(f"/proc/{pid}/status").read_text(), "VmRSS")


def peak_rss(pid: int) -> int:
    return status_bytes(Path(f"/proc/{pid}/status").read_text(), "VmHWM")


# -- counters ---------------------------------------------------------------------------------------------------

def counters_by(text: str, name: str, key: str, **labels: str) -> dict[str, float]:
    """Samples of metric `name` whose labels match `labels`, summed by the value of label `key`."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                found[sample.labels.get(key, "")] = found.get(sample.labels.get(key, ""), 0.0) + sample.value
    return found


def backend_calls(metrics_url: str, provider: str) -> dict[str, float]:
    """herder's requests to one kind of backend (`vcenter`, `scvmm`) so far, by operation."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return counters_by(text, "herder_backend_requests_total", "operation", provider=provider)


def write_key(labels: Mapping[str, str]) -> str | None:
    """How a write counted by kube-apiserver is reported ("PATCH elasticcloudservers/status"), if it is one the
    benchmarks count: a write to a herder.dev object or an Event."""
    if labels.get("verb") not in WRITE_VERBS:
        return None
    if labels.get("group") != GROUP and labels.get("resource") != "events":
        return None
    subresource = f"/{labels['subresource']}" if labels.get("subresource") else ""
    return f"{labels['verb']} {labels['resource']}{subresource}"


def apiserver_writes(state: StackState) -> dict[str, float]:
    """Writes to herder.dev objects and Events so far, counted by kube-apiserver itself, by verb and resource."""
    text = state.kubectl("get", "--raw", "/metrics").stdout
    writes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "apiserver_request_total" and (key := write_key(sample.labels)) is not None:
                writes[key] = writes.get(key, 0.0) + sample.value
    return writes
