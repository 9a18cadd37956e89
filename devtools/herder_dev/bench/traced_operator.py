"""`python -m herder_dev.bench.traced_operator run ...`: herder's own `herder run`, traced for the benchmarks.

tracemalloc records every allocation from before herder is imported (one frame each, which is what grouping by
file:line needs), and an extra Kopf startup handler probes the asyncio loop every PROBE_SECONDS: how late each wake-up
came is the loop's lag. On SIGUSR2 the process writes the top TOP_SITES allocation sites by size (and those that
grew most since the first SIGUSR2) and the lag figures since the previous SIGUSR2 (or the start) to the file
named by $HERDER_BENCH_PROFILE, as JSON.

Devtools only: the image holds `herder` alone. Tracing costs memory and time, so RSS and CPU figures of a
traced run are not the operator's own.
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import kopf

from herder_dev.bench.measure import PROFILE_ENV, lag_summary, top_growth

PROBE_SECONDS = 0.1
TOP_SITES = 25


class LagProbe:
    """Sleeps PROBE_SECONDS at a time on the loop and keeps how late each wake-up was (8 bytes a sample)."""

    def __init__(self) -> None:
        self.lateness = array.array("d")
        self.since = time.monotonic()

    async def run(self) -> None:
        while True:
            due = time.monotonic() + PROBE_SECONDS  # the loop's clock
            await asyncio.sleep(PROBE_SECONDS)
            if due >= self.since:  # a wake-up that a dump delayed belongs to no window
                self.lateness.append(max(0.0, time.monotonic() - due))

    def take(self) -> dict[str, float]:
        """The figures since the last take, and a new window from now."""
        figures = lag_summary(self.lateness) | {"window_seconds": time.monotonic() - self.since}
        self.lateness = array.array("d")
        self.since = time.monotonic()
        return figures


def _site(stat: tracemalloc.Statistic) -> str:
    return f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}"


class Dumper:
    """Writes the report on each SIGUSR2: the top sites now, the sites that grew most since the first dump (the
    bench dumps first just before its apply), and the loop lag of the window that ends with the dump."""

    def __init__(self, path: Path, probe: LagProbe) -> None:
        self.path, self.probe, self.dumps = path, probe, 0
        self.first: dict[str, int] | None = None  # bytes by site at the first dump

    def __call__(self) -> None:
        self.dumps += 1
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        stats = snapshot.statistics("lineno")
        del snapshot
        sizes = {_site(stat): stat.size for stat in stats}
        if self.first is None:
            self.first = sizes
        current, peak = tracemalloc.get_traced_memory()
        report = {
            "dump": self.dumps,
            "top_sites": [{"site": _site(stat), "bytes": stat.size, "blocks": stat.count}
                          for stat in stats[:TOP_SITES]],
            "top_growth": [{"site": site, "bytes": grown} for site, grown in top_growth(self.first, sizes, TOP_SITES)],
            "traced_bytes": current, "traced_peak_bytes": peak,
            "loop_lag": self.probe.take(),  # last: the window ends after the snapshot it took
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(report, indent=1))
        partial.replace(self.path)  # the bench never reads half a file


_running: set[asyncio.Task[None]] = set()  # the probe's task, kept from the garbage collector


@kopf.on.startup()
async def start_lag_probe(**_: Any) -> None:
    probe = LagProbe()
    task = asyncio.create_task(probe.run(), name="bench-loop-lag-probe")
    _running.add(task)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, Dumper(Path(os.environ[PROFILE_ENV]), probe))


def main(argv: list[str]) -> int:
    if not os.environ.get(PROFILE_ENV):
        raise SystemExit(f"{PROFILE_ENV} must name the file to write on SIGUSR2")
    tracemalloc.start()
    from herder.cli import main as herder_main

    return herder_main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
