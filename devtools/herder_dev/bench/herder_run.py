"""The measurement every mode makes of herder itself: a stack, the operator, N ECSs applied in chunks, the time
until each is Ready, what that cost the backend and Kubernetes, then an idle window, and the operator's memory
and CPU throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herder_dev.bench import measure
from herder_dev.bench.report import Row, rss_target_mib
from herder_dev.bench.watch import ReadyWatch
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import Stack, StackState

NAMESPACE = "bench"
# kubectl applies object after object; several chunks in flight keep it from being what the bench measures.
CHUNK = 250
PARALLEL_APPLIES = 4
# After the last Ready, the creates' tail (status writes, Events, the watch catching up, vcsim's own changes to
# the new VMs) must end before the idle window starts: the counters have to stand still this long ...
SETTLE_QUIET_SECONDS = 15.0
SETTLE_POLL_SECONDS = 1.0
# ... except for what keeps the inventory current, which is what idle looks like: the vCenter watch's long poll
# and the SCVMM bulk read every HERDER_SCVMM_INVENTORY_SECONDS (5 s by default).
IDLE_CALLS = frozenset({"WaitForUpdatesEx", "inventory"})
# Figures per operation or kind of write: these prefixes and the operation's name ("calls/create Clone").
CALLS_PER_CREATE = "calls/create "
WRITES_PER_CREATE = "writes/create "
IDLE_CALLS_PER_MINUTE = "idle calls/min "
IDLE_WRITES_PER_MINUTE = "idle writes/min "


@dataclass(frozen=True)
class Options:
    idle_seconds: float = 120.0
    settle_seconds: float = 180.0  # the longest the settle phase may last; the idle window starts then anyway
    stall_seconds: float = 300.0  # give up waiting when no ECS turned Ready for this long
    memory_profile: Path | None = None  # run the operator under traced_operator, and keep its last dump here
    py_spy: Path | None = None  # record the operator with py-spy while it creates (speedscope)


@contextmanager
def world(directory: Path, *, vcsim_args: tuple[str, ...] = (), scvmm_args: tuple[str, ...] = ()) \
        -> Iterator[StackState]:
    stack = Stack(directory, say=lambda line: None, vcsim_args=vcsim_args, scvmm_args=scvmm_args)
    state = stack.up()
    try:
        state.kubectl("create", "namespace", NAMESPACE)
        yield state
    finally:
        stack.down()


def apply(state: StackState, objects: list[dict[str, Any]], namespace: str | None = None) -> None:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    state.kubectl("apply", "-f", "-", input=document, namespace=namespace)


def servers(count: int, zone: str, image: str) -> list[dict[str, Any]]:
    return [{"apiVersion": f"{measure.GROUP}/v1alpha1", "kind": "ElasticCloudServer",
             "metadata": {"name": f"ecs-{i}"},
             "spec": {"image": {"kind": "ClusterImage", "name": image}, "availabilityZone": zone,
                      "cpu": 1, "memory": "1Gi"}} for i in range(count)]


def submit(state: StackState, objects: list[dict[str, Any]]) -> float:
    """Apply `objects` in chunks, several at once; the seconds it took."""
    started = time.monotonic()
    chunks = [objects[i:i + CHUNK] for i in range(0, len(objects), CHUNK)]
    with ThreadPoolExecutor(PARALLEL_APPLIES) as pool:
        list(pool.map(lambda chunk: apply(state, chunk, NAMESPACE), chunks))
    return time.monotonic() - started


class ProfileFile:
    """The traced operator's dumps: each SIGUSR2 rewrites the file with a higher `dump` number."""

    def __init__(self, path: Path, pid: int) -> None:
        self.path, self.pid, self.dumps = path, pid, 0

    def dump(self, timeout: float = 300.0) -> dict[str, Any]:
        self.dumps += 1
        os.kill(self.pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.path.exists():
                report: dict[str, Any] = json.loads(self.path.read_text())
                if report["dump"] == self.dumps:
                    return report
            time.sleep(0.2)
        raise TimeoutError(f"the traced operator wrote no dump {self.dumps} to {self.path} in {timeout:.0f}s")


@contextmanager
def operator(state: StackState, directory: Path, provider: str, memory_profile: Path | None) \
        -> Iterator[OperatorProcess]:
    """herder (or herder traced) running, once it has made its first call to the backend `provider`."""
    if memory_profile is None:
        process = OperatorProcess(state, directory / "herder.log")
    else:
        process = OperatorProcess(state, directory / "herder.log", module="herder_dev.bench.traced_operator",
                                  extra_env={measure.PROFILE_ENV: str(memory_profile.resolve())})
    process.start()
    try:
        deadline = time.monotonic() + 120
        while not sum(measure.backend_calls(process.metrics_url, provider).values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"herder made no call to {provider} in 120s; see {process.log_path}")
            time.sleep(0.2)
        time.sleep(2)
        yield process
    finally:
        process.stop()


@dataclass
class HerderRun:
    """What one apply of `count` ECSs cost herder. Memory in bytes, times in seconds."""

    count: int
    ready: int
    submit_seconds: float
    all_ready_seconds: float
    latencies: list[float]
    calls_create: dict[str, float]
    writes_create: dict[str, float]  # herder's: the bench's own creates are taken out
    calls_idle: dict[str, float]
    writes_idle: dict[str, float]
    idle_seconds: float
    settle_seconds: float  # from the last Ready to the start of the idle window
    settled: bool  # the counters stood still; False: the settle phase ran out
    rss_before: int
    rss_ready: int
    rss_settled: int
    peak_rss: int
    cpu_create: float
    cpu_idle: float
    backend_side_create: dict[str, float] = field(default_factory=dict)  # the backend's own counters, if any
    backend_side_idle: dict[str, float] = field(default_factory=dict)
    lag: dict[str, dict[str, float]] = field(default_factory=dict)  # window -> loop-lag figures (traced)
    top_sites: list[dict[str, Any]] = field(default_factory=list)  # (traced) when all were Ready and idle
    top_growth: list[dict[str, Any]] = field(default_factory=list)  # (traced) since just before the apply

    def figures(self) -> dict[str, float]:
        n = self.count
        figures = {
            "ecs": n, "ready": self.ready, "submit_seconds": self.submit_seconds,
            "herder_seconds": self.all_ready_seconds,
            "ready_p50_seconds": measure.percentile(self.latencies, 0.5),
            "ready_p95_seconds": measure.percentile(self.latencies, 0.95),
            "backend_calls_per_ecs": sum(self.calls_create.values()) / n,
            "k8s_writes_per_ecs": sum(self.writes_create.values()) / n,
            "idle_backend_calls_per_minute": measure.per_minute(sum(self.calls_idle.values()), self.idle_seconds),
            "idle_k8s_writes_per_minute": measure.per_minute(sum(self.writes_idle.values()), self.idle_seconds),
            "rss_before_mib": self.rss_before / measure.MIB, "rss_ready_mib": self.rss_ready / measure.MIB,
            "rss_settled_mib": self.rss_settled / measure.MIB, "peak_rss_mib": self.peak_rss / measure.MIB,
            "bytes_per_ecs": measure.bytes_per_server(self.rss_before, self.rss_settled, n),
            "operator_cpu_seconds": self.cpu_create, "operator_cpu_ms_per_ecs": self.cpu_create * 1000 / n,
            "idle_cpu_percent": self.cpu_idle * 100 / self.idle_seconds,
            "settle_seconds": self.settle_seconds, "settle_ran_out": float(not self.settled),
            "idle_window_seconds": self.idle_seconds,
        }
        figures |= {f"{CALLS_PER_CREATE}{op}": value / n for op, value in self.calls_create.items()}
        figures |= {f"{WRITES_PER_CREATE}{kind}": value / n for kind, value in self.writes_create.items()}
        figures |= {f"{IDLE_CALLS_PER_MINUTE}{op}": measure.per_minute(value, self.idle_seconds)
                    for op, value in self.calls_idle.items()}
        figures |= {f"{IDLE_WRITES_PER_MINUTE}{kind}": measure.per_minute(value, self.idle_seconds)
                    for kind, value in self.writes_idle.items()}
        for window, lag in self.lag.items():
            figures |= {f"loop_lag_{window}_{key}": value for key, value in lag.items() if key != "samples"}
        return figures

    def breakdown(self) -> dict[str, dict[str, float]]:
        return {"backend_calls_create": self.calls_create, "backend_calls_idle": self.calls_idle,
                "k8s_writes_create": self.writes_create, "k8s_writes_idle": self.writes_idle}


def settle(quiet: Callable[[], tuple[dict[str, float], dict[str, float]]], longest: float) -> tuple[float, bool]:
    """Wait until `quiet()` (backend calls, Kubernetes writes) has not moved for SETTLE_QUIET_SECONDS, at most
    `longest` seconds; (the seconds waited, whether it settled). What keeps the inventory current (IDLE_CALLS) is
    not counted: it is what idle looks like."""
    started = time.monotonic()

    def reading() -> tuple[dict[str, float], dict[str, float]]:
        calls, writes = quiet()
        return {op: n for op, n in calls.items() if op not in IDLE_CALLS}, writes

    last, still_since = reading(), time.monotonic()
    while time.monotonic() - started < longest:
        time.sleep(SETTLE_POLL_SECONDS)
        now = reading()
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= SETTLE_QUIET_SECONDS:
            return time.monotonic() - started, True
    return time.monotonic() - started, False


def _py_spy(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the operator (all its threads) until it is sent SIGINT; a speedscope file."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-r", "50",
                             "--threads", "-f", "speedscope", "-o", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_herder(state: StackState, process: OperatorProcess, provider: str, objects: list[dict[str, Any]],
                   options: Options, *, backend_counters: Callable[[], dict[str, float]] | None = None) \
        -> HerderRun:
    """Apply `objects` (ECSs in NAMESPACE) to the running operator and measure it until all are Ready, then
    over an idle window. `backend_counters` reads what the backend itself counted (the SCVMM simulator's
    requests), at the same moments as herder's own counters."""
    def counted() -> dict[str, float]:
        return backend_counters() if backend_counters is not None else {}

    assert process.proc is not None
    pid, count = process.proc.pid, len(objects)
    profile = ProfileFile(options.memory_profile, pid) if options.memory_profile is not None else None
    lag: dict[str, dict[str, float]] = {}
    if profile is not None:
        lag["startup"] = profile.dump()["loop_lag"]  # also starts the window of the creates
    calls_before, writes_before = measure.backend_calls(process.metrics_url, provider), measure.apiserver_writes(state)
    side_before, rss_before, cpu_before = counted(), measure.rss(pid), measure.cpu_seconds(pid)
    watch = ReadyWatch(state, NAMESPACE)
    spy = _py_spy(pid, options.py_spy) if options.py_spy is not None else None
    started = time.monotonic()
    submit_seconds = submit(state, objects)
    ready = watch.wait(count, options.stall_seconds)
    all_ready = (watch.last_ready() or started) - started
    cpu_ready, rss_ready = measure.cpu_seconds(pid), measure.rss(pid)
    watch.stop()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=120)
    if profile is not None:
        lag["create"] = profile.dump()["loop_lag"]
    # The creates' cost runs to the end of the settle phase: whatever they made herder do after the last Ready
    # (the watch catching up, trailing writes) counts against them, not against idle.
    settle_seconds, settled = settle(lambda: (measure.backend_calls(process.metrics_url, provider),
                                              measure.apiserver_writes(state)), options.settle_seconds)
    calls_after, writes_after = measure.backend_calls(process.metrics_url, provider), measure.apiserver_writes(state)
    side_after, cpu_settled = counted(), measure.cpu_seconds(pid)
    time.sleep(options.idle_seconds)
    calls_idle, writes_idle = measure.backend_calls(process.metrics_url, provider), measure.apiserver_writes(state)
    side_idle = counted()
    cpu_idle, rss_settled, peak = measure.cpu_seconds(pid), measure.rss(pid), measure.peak_rss(pid)
    top_sites: list[dict[str, Any]] = []
    top_growth: list[dict[str, Any]] = []
    if profile is not None:
        report = profile.dump()
        lag["idle"], top_sites, top_growth = report["loop_lag"], report["top_sites"], report["top_growth"]
    writes_create = measure.delta(writes_after, writes_before)
    writes_create["POST elasticcloudservers"] = writes_create.get("POST elasticcloudservers", 0.0) - count
    return HerderRun(
        count=count, ready=ready, submit_seconds=submit_seconds, all_ready_seconds=all_ready,
        latencies=watch.latencies(), calls_create=measure.delta(calls_after, calls_before),
        writes_create={k: v for k, v in writes_create.items() if v},
        calls_idle=measure.delta(calls_idle, calls_after), writes_idle=measure.delta(writes_idle, writes_after),
        idle_seconds=options.idle_seconds, settle_seconds=settle_seconds, settled=settled, rss_before=rss_before,
        rss_ready=rss_ready, rss_settled=rss_settled,
        peak_rss=peak, cpu_create=cpu_ready - cpu_before, cpu_idle=cpu_idle - cpu_settled,
        backend_side_create=measure.delta(side_after, side_before),
        backend_side_idle=measure.delta(side_idle, side_after),
        lag=lag, top_sites=top_sites, top_growth=top_growth,
    )


def rows(backend: str, count: int, *, calls_target: float | None, traced: bool) -> list[Row]:
    """The table rows of HerderRun.figures(); `backend` names the backend's calls ("vCenter calls")."""
    lines = [
        Row("ECSs Ready", "ready", 0),
        Row("kubectl apply of all ECSs, in chunks (s)", "submit_seconds"),
        Row("herder, apply to all Ready (s)", "herder_seconds"),
        Row("per ECS, apply to Ready p50 (s)", "ready_p50_seconds", 2),
        Row("per ECS, apply to Ready p95 (s)", "ready_p95_seconds", 2),
        Row(f"{backend} per create", "backend_calls_per_ecs", 2, calls_target),
        Row("Kubernetes writes per create", "k8s_writes_per_ecs", 3, 3.0),
        Row(f"{backend} per minute, idle", "idle_backend_calls_per_minute", 1, 5.0 if calls_target else None),
        Row("Kubernetes writes per minute, idle", "idle_k8s_writes_per_minute", 1),
        Row("settle phase before the idle window (s)", "settle_seconds", 0),
        Row("  ran out before herder was quiet (1: yes)", "settle_ran_out", 0),
        Row("idle window (s)", "idle_window_seconds", 0),
        Row("operator RSS before the apply (MiB)", "rss_before_mib", 0),
        Row("operator RSS all Ready and idle (MiB)", "rss_settled_mib", 0),
        Row("operator peak RSS (MiB)", "peak_rss_mib", 0, rss_target_mib(count)),
        Row("bytes per server (RSS growth / N)", "bytes_per_ecs", 0),
        Row("operator CPU, apply to all Ready (s)", "operator_cpu_seconds", 1),
        Row("operator CPU per ECS (ms)", "operator_cpu_ms_per_ecs", 1),
        Row("operator CPU while idle (% of a core)", "idle_cpu_percent", 1),
    ]
    if traced:
        lines += [Row(f"loop lag {window} {stat} (ms)", f"loop_lag_{window}_{stat}_ms", 1)
                  for window in ("create", "idle") for stat in ("p50", "p99", "max")]
    return lines


def detail_rows(runs: Sequence[Mapping[str, float]], backend: str) -> list[Row]:
    """Rows for the per-operation figures the runs have (`backend` names the backend's calls), by size."""
    sections = ((CALLS_PER_CREATE, f"{backend} per create", 2), (WRITES_PER_CREATE, "Kubernetes writes per create", 3),
                (IDLE_CALLS_PER_MINUTE, f"{backend} per minute, idle", 1),
                (IDLE_WRITES_PER_MINUTE, "Kubernetes writes per minute, idle", 1))
    lines: list[Row] = []
    for prefix, heading, digits in sections:
        sizes: dict[str, float] = {}
        for run in runs:
            for key, value in run.items():
                if key.startswith(prefix):
                    sizes[key] = max(sizes.get(key, 0.0), value)
        if sizes:
            lines.append(Row(f"{heading}, by operation:", "-", 0))
            lines += [Row(f"  {key[len(prefix):]}", key, digits) for key in sorted(sizes, key=lambda k: -sizes[k])]
    return lines
