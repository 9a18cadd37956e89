"""The scale mode: N ECSs (10,000 by default of `--scale`) on vcsim with no clone latency.

Measures herder: the time until all are Ready, memory (before, settled, peak, per server), idle calls and
writes, CPU. Then vcsim itself at that size, with the operator stopped: its memory and CPU, how long one
RetrievePropertiesEx of herder's watched properties over every VM takes, and how long a new watch's first sync
(the PropertyCollector filter herder's inventory makes, read in pages of 100 as herder reads it) takes.
Not part of CI; sized to run on a 2-core machine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pyVim.connect import Disconnect
from pyVmomi import vim, vmodl

from herder.providers.vcenter.observe import WATCHED_PROPERTIES
from herder.providers.vcenter.query import all_of_type, view_filter
from herder_dev.bench import herder_run, measure, vcenter
from herder_dev.bench.herder_run import HerderRun, Options
from herder_dev.bench.report import Row
from herder_dev.stack import StackState

IDLE_WAIT_SECONDS = 20  # an idle WaitForUpdatesEx: vcsim's cost of a watch while nothing changes


class Costs:
    """Wall time, vcsim's CPU and this process's CPU (pyVmomi's parsing) of one step."""

    def __init__(self, vcsim_pid: int) -> None:
        self._pid = vcsim_pid
        self._start = (time.monotonic(), measure.cpu_seconds(vcsim_pid), time.process_time())

    def figures(self, name: str) -> dict[str, float]:
        wall, vcsim, client = self._start
        return {f"{name}_seconds": time.monotonic() - wall, f"{name}_vcsim_cpu_seconds":
                measure.cpu_seconds(self._pid) - vcsim, f"{name}_client_cpu_seconds": time.process_time() - client}


def _first_sync(content: Any, folder: Any, vcsim_pid: int) -> dict[str, float]:
    """A new collector, view and filter as herder's inventory builds them: the initial WaitForUpdatesEx sync
    (its calls and objects), then one wait with nothing changing, as a watch spends its idle time."""
    collector = content.propertyCollector.CreatePropertyCollector()
    view = content.viewManager.CreateContainerView(container=folder, type=[vim.VirtualMachine], recursive=True)
    try:
        collector.CreateFilter(view_filter(view, vim.VirtualMachine, WATCHED_PROPERTIES), partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=60, maxObjectUpdates=100)
        costs, calls, objects, version = Costs(vcsim_pid), 0, 0, ""
        while True:
            update = collector.WaitForUpdatesEx(version, options)
            calls += 1
            if update is None:
                break
            version = update.version
            objects += sum(len(f.objectSet or ()) for f in update.filterSet or ())
            if not update.truncated:
                break
        figures = costs.figures("first_sync") | {"first_sync_calls": calls, "first_sync_objects": objects}
        costs = Costs(vcsim_pid)
        collector.WaitForUpdatesEx(version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=IDLE_WAIT_SECONDS))
        return figures | costs.figures("idle_wait")
    finally:
        view.DestroyView()
        collector.DestroyPropertyCollector()


def probe_vcsim(state: StackState, cpu_during_run: float) -> dict[str, float]:
    pid = state.processes["vcsim"].pid
    si = vcenter.connect(state)
    try:
        content = si.RetrieveContent()
        folder = content.searchIndex.FindByInventoryPath("DC0/vm")
        costs = Costs(pid)
        vms = all_of_type(content, folder, vim.VirtualMachine, WATCHED_PROPERTIES)
        figures = costs.figures("retrieve") | _first_sync(content, folder, pid)
    finally:
        Disconnect(si)
    return figures | {"vms": len(vms), "cpu_seconds_during_run": cpu_during_run,
                      "rss_mib": measure.rss(pid) / measure.MIB, "peak_rss_mib": measure.peak_rss(pid) / measure.MIB}


def run(count: int, options: Options, directory: Path) -> tuple[dict[str, float], HerderRun, dict[str, float]]:
    with herder_run.world(directory) as state:
        herder_run.apply(state, vcenter.manifests(state))
        vcsim_pid = state.processes["vcsim"].pid
        with herder_run.operator(state, directory, "vcenter", options.memory_profile) as process:
            cpu_before = measure.cpu_seconds(vcsim_pid)
            run = herder_run.measure_herder(state, process, "vcenter",
                                            herder_run.servers(count, vcenter.ZONE, vcenter.IMAGE), options)
            cpu_during = measure.cpu_seconds(vcsim_pid) - cpu_before
        vcsim = probe_vcsim(state, cpu_during)
    return run.figures(), run, vcsim


def rows(count: int, traced: bool) -> list[Row]:
    return herder_run.rows("vCenter calls", count, calls_target=4.0, traced=traced)


def title(count: int) -> str:
    return f"herder bench (scale): {count} ECSs on vcsim, no clone latency"


def describe_vcsim(vcsim: dict[str, Any]) -> str:
    def cost(name: str) -> str:
        return (f"{vcsim[f'{name}_seconds']:.2f} s (vcsim CPU {vcsim[f'{name}_vcsim_cpu_seconds']:.1f} s, "
                f"pyVmomi's parsing in the bench {vcsim[f'{name}_client_cpu_seconds']:.1f} s)")

    return "\n".join([
        f"vcsim with {vcsim['vms']:,} VMs (templates included), the operator stopped:",
        f"  RSS {vcsim['rss_mib']:,.0f} MiB (peak {vcsim['peak_rss_mib']:,.0f} MiB); "
        f"CPU while herder created and idled {vcsim['cpu_seconds_during_run']:,.1f} s",
        f"  one RetrievePropertiesEx of herder's watched properties over every VM: {cost('retrieve')}",
        f"  a new watch's first sync ({vcsim['first_sync_calls']:.0f} WaitForUpdatesEx of at most 100 objects, "
        f"{vcsim['first_sync_objects']:,.0f} objects): {cost('first_sync')}",
        f"  then one WaitForUpdatesEx with nothing changing ({IDLE_WAIT_SECONDS} s): {cost('idle_wait')}",
    ])
