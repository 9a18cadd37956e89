"""The vCenter mode: N ECSs through herder versus the same clones by a plain pyvmomi script, on vcsim.

vcsim answers instantly by default, which would make any controller look slow next to a bare loop, so clones
get a fixed latency (`--clone-ms`, default 2000) on both sides. Each run is a fresh stack: the plain script
clones first, then herder creates its N ECSs; the ratio is herder's apply-to-all-Ready over the script's time.
"""

from __future__ import annotations

import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from herder.controllers.shared.executor import PASS_THREADS
from herder_dev.bench import herder_run
from herder_dev.bench.herder_run import HerderRun, Options
from herder_dev.bench.measure import GROUP
from herder_dev.bench.report import Row
from herder_dev.stack import StackState

ZONE, IMAGE = "dc0-c0", "ubuntu"


def manifests(state: StackState) -> list[dict[str, Any]]:
    vcenter = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "VCenter", "metadata": {"name": "vcsim"},
               "spec": {"server": f"127.0.0.1:{state.processes['vcsim'].port}", "datacenter": "DC0",
                        "credentialsSecretRef": {"name": "vcsim-credentials", "namespace": "herder-system"},
                        "tls": {"caBundle": state.ca.read_text()}}}
    zone = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": ZONE},
            "spec": {"region": "r1", "provider": {"kind": "VCenter", "name": "vcsim"},
                     "vcenter": {"cluster": "DC0_C0", "datastore": "LocalDS_0", "network": "VM Network",
                                 "folder": "vm"}}}
    image = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "ClusterImage", "metadata": {"name": IMAGE},
             "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                      "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}
    return [vcenter, zone, image]


def connect(state: StackState) -> Any:
    context = ssl.create_default_context(cafile=str(state.ca))
    return SmartConnect(host="127.0.0.1", port=state.processes["vcsim"].port, user=state.vcsim_username,
                        pwd=state.vcsim_password, sslContext=context)


def baseline(state: StackState, count: int) -> float:
    """The same clones as herder makes, by a plain pyvmomi script with as many threads as herder's pool."""
    si = connect(state)
    try:
        index = si.RetrieveContent().searchIndex
        template = index.FindByInventoryPath("DC0/vm/ubuntu-22.04-tmpl")
        pool = index.FindByInventoryPath("DC0/host/DC0_C0/Resources")
        datastore = index.FindByInventoryPath("DC0/datastore/LocalDS_0")
        folder = index.FindByInventoryPath("DC0/vm")

        def clone(i: int) -> None:
            spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool, datastore=datastore), powerOn=True,
                                    config=vim.vm.ConfigSpec(numCPUs=1, memoryMB=1024))
            task = template.CloneVM_Task(folder=folder, name=f"baseline-{i}", spec=spec)
            while task.info.state not in {"success", "error"}:
                time.sleep(0.1)

        started = time.monotonic()
        with ThreadPoolExecutor(PASS_THREADS) as threads:
            list(threads.map(clone, range(count)))
        return time.monotonic() - started
    finally:
        Disconnect(si)


def run_once(count: int, clone_ms: int, options: Options, directory: Path) -> tuple[dict[str, float], HerderRun]:
    vcsim_args = ("-method-delay", f"CloneVM_Task:{clone_ms}") if clone_ms else ()
    with herder_run.world(directory, vcsim_args=vcsim_args) as state:
        herder_run.apply(state, manifests(state))
        baseline_seconds = baseline(state, count)
        with herder_run.operator(state, directory, "vcenter", options.memory_profile) as process:
            run = herder_run.measure_herder(state, process, "vcenter", herder_run.servers(count, ZONE, IMAGE),
                                            options)
    figures = run.figures() | {"clone_ms": clone_ms, "baseline_seconds": baseline_seconds,
                               "ratio": run.all_ready_seconds / baseline_seconds}
    return figures, run


def rows(count: int, traced: bool) -> list[Row]:
    return [Row("plain pyvmomi clones (s)", "baseline_seconds"),
            Row("ratio herder / pyvmomi", "ratio", 2, 1.15),
            *herder_run.rows("vCenter calls", count, calls_target=4.0, traced=traced)]


def title(count: int, clone_ms: int) -> str:
    return (f"herder bench (vCenter): {count} ECSs on vcsim, CloneVM_Task latency {clone_ms} ms, "
            f"concurrency {PASS_THREADS}")
