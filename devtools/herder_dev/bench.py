"""`make bench`: N ECSs through herder versus the same clones by a plain pyvmomi script, on vcsim.

Prints figures; asserts nothing. vcsim answers instantly by default, which would make any controller look
slow next to a bare loop, so clones get a fixed latency (`--clone-ms`, default 2000) on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from herder_dev import soak
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import Stack, StackState

GROUP = "herder.dev"
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}
CONCURRENCY = 32  # herder's pass threads (herder.controllers.shared.executor.PASS_THREADS)


def _metrics(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def _operator_metrics(operator: OperatorProcess) -> str:
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
        return str(response.read().decode())


def _operator_calls(operator: OperatorProcess) -> float:
    return _metrics(_operator_metrics(operator), "herder_backend_requests_total", provider="vcenter")


def _calls_by_operation(operator: OperatorProcess) -> dict[str, float]:
    calls: dict[str, float] = {}
    for family in text_string_to_metric_families(_operator_metrics(operator)):
        for sample in family.samples:
            if sample.name == "herder_backend_requests_total" and sample.labels.get("provider") == "vcenter":
                calls[sample.labels["operation"]] = calls.get(sample.labels["operation"], 0.0) + sample.value
    return calls


def _apiserver_writes(state: StackState) -> dict[str, float]:
    """Writes to any herder object (ECSs, and whatever else a create makes herder write: zones, quotas, ...) and
    to Events, counted by kube-apiserver itself, by kind of write."""
    text = state.kubectl("get", "--raw", "/metrics").stdout
    writes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name != "apiserver_request_total" or labels.get("verb") not in WRITE_VERBS:
                continue
            if labels.get("group") == GROUP or labels.get("resource") == "events":
                subresource = f"/{labels['subresource']}" if labels.get("subresource") else ""
                key = f"{labels['verb']} {labels['resource']}{subresource}"
                writes[key] = writes.get(key, 0.0) + sample.value
    return writes


def _setup(state: StackState) -> None:
    vcenter = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "VCenter", "metadata": {"name": "vcsim"},
               "spec": {"server": f"127.0.0.1:{state.processes['vcsim'].port}", "datacenter": "DC0",
                        "credentialsSecretRef": {"name": "vcsim-credentials", "namespace": "herder-system"},
                        "tls": {"caBundle": state.ca.read_text()}}}
    zone = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": "dc0-c0"},
            "spec": {"region": "r1", "provider": {"kind": "VCenter", "name": "vcsim"},
                     "vcenter": {"cluster": "DC0_C0", "datastore": "LocalDS_0", "network": "VM Network",
                                 "folder": "vm"}}}
    image = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "ClusterImage", "metadata": {"name": "ubuntu"},
             "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                      "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}
    state.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([vcenter, zone, image]))
    state.kubectl("create", "namespace", "bench")


def _baseline(state: StackState, count: int) -> float:
    """The same clones as herder makes, by a plain pyvmomi script at the same concurrency."""
    context = ssl.create_default_context(cafile=str(state.ca))
    si = SmartConnect(host="127.0.0.1", port=state.processes["vcsim"].port, user=state.vcsim_username,
                      pwd=state.vcsim_password, sslContext=context)
    try:
        content = si.RetrieveContent()
        template = content.searchIndex.FindByInventoryPath("DC0/vm/ubuntu-22.04-tmpl")
        pool = content.searchIndex.FindByInventoryPath("DC0/host/DC0_C0/Resources")
        datastore = content.searchIndex.FindByInventoryPath("DC0/datastore/LocalDS_0")
        folder = content.searchIndex.FindByInventoryPath("DC0/vm")

        def clone(index: int) -> None:
            spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool, datastore=datastore), powerOn=True,
                                    config=vim.vm.ConfigSpec(numCPUs=1, memoryMB=1024))
            task = template.CloneVM_Task(folder=folder, name=f"baseline-{index}", spec=spec)
            while task.info.state not in {"success", "error"}:
                time.sleep(0.1)

        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool_:
            list(pool_.map(clone, range(count)))
        return time.monotonic() - started
    finally:
        Disconnect(si)


class ReadyWatch:
    """When each ECS of the bench namespace first turned Ready, as a watch delivers it (time.monotonic())."""

    def __init__(self, state: StackState) -> None:
        import kubernetes

        self._api = kubernetes.client.CustomObjectsApi(
            kubernetes.config.new_client_from_config(config_file=str(state.kubeconfig)))
        self._watch = kubernetes.watch.Watch()
        self.ready: dict[str, float] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="bench-ready-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped:  # a watch ends now and then (server timeouts): list and watch again
            try:
                for event in self._watch.stream(self._api.list_namespaced_custom_object, GROUP, "v1alpha1",
                                                "bench", "elasticcloudservers", timeout_seconds=300):
                    self._seen(event["object"])
            except Exception:
                time.sleep(0.2)

    def _seen(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name not in self.ready and any(c["type"] == "Ready" and c["status"] == "True"
                                          for c in (body.get("status") or {}).get("conditions") or []):
            self.ready[name] = time.monotonic()

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def _servers(count: int) -> list[dict[str, Any]]:
    return [{"apiVersion": f"{GROUP}/v1alpha1", "kind": "ElasticCloudServer", "metadata": {"name": f"ecs-{i}"},
             "spec": {"image": {"kind": "ClusterImage", "name": "ubuntu"}, "availabilityZone": "dc0-c0",
                      "cpu": 1, "memory": "1Gi"}} for i in range(count)]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _profile(operator: OperatorProcess, path: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the operator (all its threads) until it is sent SIGINT; a speedscope file."""
    assert operator.proc is not None
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(operator.proc.pid),
                             "-r", "50", "--threads", "-f", "speedscope", "-o", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(count: int, clone_ms: int, idle_seconds: float, directory: Path, verbose: bool = False,  # noqa: PLR0917
        profile: Path | None = None) -> dict[str, float]:
    args = ("-method-delay", f"CloneVM_Task:{clone_ms}") if clone_ms else ()
    stack = Stack(directory, say=lambda line: None, vcsim_args=args)
    state = stack.up()
    operator = OperatorProcess(state, directory / "herder.log")
    try:
        _setup(state)
        baseline = _baseline(state, count)
        operator.start()
        while _operator_calls(operator) == 0:  # connected: the VCenter has been logged into
            time.sleep(0.2)
        time.sleep(2)
        calls_before, writes_before = _operator_calls(operator), _apiserver_writes(state)
        by_operation_before = _calls_by_operation(operator)
        assert operator.proc is not None
        cpu_before = _cpu_seconds(operator.proc.pid)
        watch = ReadyWatch(state)
        profiler = _profile(operator, profile) if profile is not None else None
        started = time.monotonic()
        state.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_servers(count)), namespace="bench")
        while len(watch.ready) < count:
            time.sleep(0.1)
        watch.stop()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        cpu_per_ecs = (_cpu_seconds(operator.proc.pid) - cpu_before) / count
        latencies = [at - started for at in watch.ready.values()]
        herder_seconds = max(latencies)
        time.sleep(3)  # let trailing status writes land before counting
        calls_after, writes_after = _operator_calls(operator), _apiserver_writes(state)
        by_operation_after = _calls_by_operation(operator)
        time.sleep(idle_seconds)
        by_operation_idle = _calls_by_operation(operator)
        calls_idle = _operator_calls(operator) - calls_after
        if verbose:
            spent_writes = {k: v - writes_before.get(k, 0.0) for k, v in writes_after.items()
                            if v - writes_before.get(k, 0.0)}
            print(f"Kubernetes writes (including the benchmark's own creates): {json.dumps(spent_writes)}")
            for label, first, last in (("create", by_operation_before, by_operation_after),
                                       ("idle", by_operation_after, by_operation_idle)):
                spent = {op: last[op] - first.get(op, 0.0) for op in last if last[op] - first.get(op, 0.0)}
                print(f"vCenter calls by operation while {label}: {json.dumps(spent, sort_keys=True)}")
        assert operator.proc is not None
        return {
            "ecs": count, "clone_ms": clone_ms, "baseline_seconds": baseline, "herder_seconds": herder_seconds,
            "ratio": herder_seconds / baseline,
            "vcenter_calls_per_ecs": (calls_after - calls_before) / count,
            # The benchmark's own creates are writes too: count only herder's.
            "k8s_writes_per_ecs": (sum(writes_after.values()) - sum(writes_before.values()) - count) / count,
            "idle_vcenter_calls_per_minute": calls_idle * 60 / idle_seconds,
            "peak_rss_mib": _peak_rss_mib(operator.proc.pid),
            "operator_cpu_ms_per_ecs": cpu_per_ecs * 1000,
            "ready_p50_seconds": _percentile(latencies, 0.5), "ready_p95_seconds": _percentile(latencies, 0.95),
        }
    finally:
        operator.stop()
        stack.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=100, help="ECSs to create (default 100)")
    parser.add_argument("--clone-ms", type=int, default=2000, help="vcsim latency of CloneVM_Task, both sides")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="how long to watch the idle operator")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--breakdown", action="store_true", help="also print vCenter calls by operation")
    parser.add_argument("--dir", type=Path, default=None, help="keep the stack's files and logs here on failure")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the operator with py-spy while it creates (a speedscope file)")
    parser.add_argument("--soak", action="store_true", help="churn with faults on both backends instead (soak.py)")
    parser.add_argument("--minutes", type=float, default=10.0, help="with --soak: how long the churn lasts")
    args = parser.parse_args(argv)
    if args.soak:
        return soak.main(["--minutes", str(args.minutes), *(["--dir", str(args.dir)] if args.dir else [])])
    directory = args.dir or Path(tempfile.mkdtemp(prefix="herder-bench-"))
    figures = run(args.count, args.clone_ms, args.idle_seconds, directory, args.breakdown, args.profile)
    if args.dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"herder bench: {figures['ecs']:.0f} ECSs on vcsim, CloneVM_Task latency {figures['clone_ms']:.0f} ms, "
          f"concurrency {CONCURRENCY}")
    rows = [
        ("plain pyvmomi clones (s)", f"{figures['baseline_seconds']:.1f}"),
        ("herder, apply to all Ready (s)", f"{figures['herder_seconds']:.1f}"),
        ("per ECS, apply to Ready p50 / p95 (s)", f"{figures['ready_p50_seconds']:.1f} / "
                                                   f"{figures['ready_p95_seconds']:.1f}"),
        ("ratio herder / pyvmomi (target <= 1.3)", f"{figures['ratio']:.2f}"),
        ("vCenter calls per ECS", f"{figures['vcenter_calls_per_ecs']:.1f}"),
        ("Kubernetes writes per ECS (target <= 4)", f"{figures['k8s_writes_per_ecs']:.2f}"),
        ("vCenter calls per minute, idle", f"{figures['idle_vcenter_calls_per_minute']:.1f}"),
        ("operator peak RSS (MiB)", f"{figures['peak_rss_mib']:.0f}"),
        ("operator CPU per ECS, apply to Ready (ms)", f"{figures['operator_cpu_ms_per_ecs']:.0f}"),
    ]
    for label, value in rows:
        print(f"  {label:<42} {value:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
