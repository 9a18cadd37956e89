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


def _first_sync(content: Any, folder: Any) -> tuple[float, int, int]:
    """A new collector, view and filter as herder's inventory builds them: seconds, calls and objects of the
    initial WaitForUpdatesEx sync; then one wait with nothing changing, as a watch spends its idle time."""
    collector = content.propertyCollector.CreatePropertyCollector()
    view = content.viewManager.CreateContainerView(container=folder, type=[vim.VirtualMachine], recursive=True)
    try:
        collector.CreateFilter(view_filter(view, vim.VirtualMachine, WATCHED_PROPERTIES), partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=60, maxObjectUpdates=100)
        started, calls, objects, version = time.monotonic(), 0, 0, ""
        while True:
            update = collector.WaitForUpdatesEx(version, options)
            calls += 1
            if update is None:
                break
            version = update.version
            objects += sum(len(f.objectSet or ()) for f in update.filterSet or ())
            if not update.truncated:
                break
        synced = time.monotonic() - started
        idle = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=IDLE_WAIT_SECONDS)
        collector.WaitForUpdatesEx(version, idle)
        return synced, calls, objects
    finally:
        view.DestroyView()
        collector.DestroyPropertyCollector()


def probe_vcsim(state: StackState, cpu_during_run: float) -> dict[str, float]:
    pid = state.processes["vcsim"].pid
    si = vcenter.connect(state)
    try:
        content = si.RetrieveContent()
        folder = content.searchIndex.FindByInventoryPath("DC0/vm")
        started = time.monotonic()
        vms = all_of_type(content, folder, vim.VirtualMachine, WATCHED_PROPERTIES)
        retrieve = time.monotonic() - started
        cpu_before_sync = measure.cpu_seconds(pid)
        synced, calls, objects = _first_sync(content, folder)
        sync_cpu = measure.cpu_seconds(pid) - cpu_before_sync
    finally:
        Disconnect(si)
    return {"vms": len(vms), "retrieve_seconds": retrieve, "first_sync_seconds": synced,
            "first_sync_calls": calls, "first_sync_objects": objects,
            "sync_and_idle_wait_cpu_seconds": sync_cpu, "idle_wait_seconds": IDLE_WAIT_SECONDS,
            "cpu_seconds_during_run": cpu_during_run, "rss_mib": measure.rss(pid) / measure.MIB,
            "peak_rss_mib": measure.peak_rss(pid) / measure.MIB}


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
    return "\n".join([
        f"vcsim with {vcsim['vms']:,} VMs (templates included), the operator stopped:",
        f"  RSS {vcsim['rss_mib']:,.0f} MiB (peak {vcsim['peak_rss_mib']:,.0f} MiB); "
        f"CPU while herder created and idled {vcsim['cpu_seconds_during_run']:,.1f} s",
        f"  one RetrievePropertiesEx of herder's watched properties over every VM: "
        f"{vcsim['retrieve_seconds']:.2f} s",
        f"  a new watch's first sync (WaitForUpdatesEx, 100 objects a call): {vcsim['first_sync_seconds']:.2f} s, "
        f"{vcsim['first_sync_calls']:.0f} calls, {vcsim['first_sync_objects']:,.0f} objects",
        f"  vcsim CPU for that sync plus one idle {vcsim['idle_wait_seconds']:.0f} s wait: "
        f"{vcsim['sync_and_idle_wait_cpu_seconds']:.1f} s",
    ])
