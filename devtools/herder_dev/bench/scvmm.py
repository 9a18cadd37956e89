"""The SCVMM mode: N ECSs through herder versus the same New-SCVirtualMachine calls by a plain pywinrm script,
on the SCVMM simulator, where every VMM job runs a fixed time (`--job-ms`, the simulator's `--job-seconds`).

The plain script runs, per VM, the cmdlets herder's create runs (vms.py: template by name, a configuration in
the zone's host group, the zone's VM path, the same CPU, memory, Description length, job group,
-RunAsynchronously and -StartVM) and waits for the creation job with Get-SCJob, in one `run_ps` (pywinrm's own
shell per command) on as many threads as herder's backend pool. It does not look for an earlier VM first and
sets no custom property: that is herder's identity work, and part of what the ratio shows. Round trips are the
simulator's own counts of WS-Management requests.

Then, with the operator stopped, the simulator is filled up to `--bulk-vms` VMs that carry herder's mark, and
herder's driver runs the inventory's bulk drift read (every marked VM, observe.PROJECTION): once on a new shell,
then on the open one.
"""

from __future__ import annotations

import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import winrm

from herder.controllers.shared.executor import PASS_THREADS
from herder.providers.scvmm import SCVMMProvider, observe
from herder.providers.types import Credentials, TLSSettings
from herder_dev.bench import herder_run
from herder_dev.bench.herder_run import HerderRun, Options
from herder_dev.bench.measure import GROUP
from herder_dev.bench.report import Row
from herder_dev.stack import StackState

ZONE, IMAGE, TEMPLATE = "vmm-a", "ubuntu-vmm", "ubuntu-22.04-tmpl"
HOST_GROUP, VM_PATH = "All Hosts\\Zone-A", "D:\\VMs"
WARM_READS = 3
POPULATE_BATCH = 100  # VMs per script while filling the simulator


def manifests(state: StackState) -> list[dict[str, Any]]:
    vmm = {"kind": "SCVMM", "name": "vmm-sim"}
    return [
        {"apiVersion": f"{GROUP}/v1alpha1", "kind": "SCVMM", "metadata": {"name": "vmm-sim"},
         "spec": {"endpoint": state.scvmm_url, "transport": "basic", "tls": {"caBundle": state.ca.read_text()},
                  "credentialsSecretRef": {"namespace": "herder-system", "name": "scvmm-credentials"}}},
        {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": ZONE},
         "spec": {"region": "r2", "provider": vmm,
                  "scvmm": {"hostGroup": HOST_GROUP, "vmPath": VM_PATH, "logicalNetwork": "Datacenter",
                            "libraryShare": "\\\\vmm01.herder.test\\MSSCVMMLibrary"}}},
        {"apiVersion": f"{GROUP}/v1alpha1", "kind": "ClusterImage", "metadata": {"name": IMAGE},
         "spec": {"provider": vmm, "osFamily": "Linux", "source": {"existing": {"name": TEMPLATE}}}},
    ]


class Simulator:
    """The simulator's admin API: its counters of WS-Management requests and cmdlets."""

    def __init__(self, state: StackState) -> None:
        assert state.scvmm_url is not None, "the SCVMM mode needs the simulator"
        self._base = state.scvmm_url.rsplit("/wsman", 1)[0] + "/admin"
        self._auth = (state.scvmm_username, state.scvmm_password)
        self._ca = str(state.ca)

    def _call(self, method: str, path: str) -> Any:
        response = requests.request(method, f"{self._base}/{path}", auth=self._auth, verify=self._ca, timeout=120)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "stats/reset")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._call("GET", "stats")
        return stats

    def requests(self) -> dict[str, float]:
        """WS-Management requests so far, by action (Create, Command, Send, Receive, Signal, Delete)."""
        return {action: float(count) for action, count in self.stats()["requests"].items()}

    def vms(self) -> list[dict[str, Any]]:
        vms: list[dict[str, Any]] = self._call("GET", "state")["vms"]
        return vms


def _session(state: StackState) -> winrm.Session:
    return winrm.Session(state.scvmm_url, auth=(state.scvmm_username, state.scvmm_password), transport="ssl",
                         server_cert_validation="validate", ca_trust_path=str(state.ca))


def _create_script(name: str) -> str:
    """herder's create (vms.py) for one VM, without its identity lookup and custom property; waits for the job."""
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        f"$t = @(Get-SCVMTemplate -Name '{TEMPLATE}')",
        f"$hg = @(Get-SCVMHostGroup | Where-Object {{ $_.Path -eq '{HOST_GROUP}' -or $_.Name -eq '{HOST_GROUP}' }})",
        f"$cfg = New-SCVMConfiguration -VMTemplate $t[0] -Name '{name}' -VMHostGroup $hg[0]",
        f"$cfg = Set-SCVMConfiguration -VMConfiguration $cfg -VMLocation '{VM_PATH}'",
        "$cfg = Update-SCVMConfiguration -VMConfiguration $cfg",
        "$group = [guid]::NewGuid()",
        f"$vm = New-SCVirtualMachine -Name '{name}' -VMConfiguration $cfg -CPUCount 1 -MemoryMB 1024 "
        f"-Description 'bench-ecs-uid={uuid.uuid4()}' -JobGroup $group -RunAsynchronously -StartVM",
        "$job = $vm.MostRecentTask",
        "while (-not $job.IsCompleted) { Start-Sleep -Milliseconds 250; $job = Get-SCJob -ID $job.ID }",
        "[string]$job.Status",
    ])


def baseline(state: StackState, count: int) -> float:
    """The plain script: one run_ps per VM, PASS_THREADS at once."""

    def create(i: int) -> None:
        result = _session(state).run_ps(_create_script(f"baseline-{i}"))
        if result.status_code != 0 or result.std_out.decode().strip() != "Completed":
            raise RuntimeError(f"plain create {i} failed: {result.std_out!r} {result.std_err[-500:]!r}")

    started = time.monotonic()
    with ThreadPoolExecutor(PASS_THREADS) as threads:
        list(threads.map(create, range(count)))
    return time.monotonic() - started


def populate(state: StackState, simulator: Simulator, total: int) -> int:
    """Add VMs with herder's Description mark until `total` marked VMs exist, through the cmdlets; how many."""
    marked = sum(1 for vm in simulator.vms() if observe.DESCRIPTION_MARK in str(vm.get("description") or ""))
    session = _session(state)
    for start in range(marked, total, POPULATE_BATCH):
        end = min(total, start + POPULATE_BATCH) - 1
        result = session.run_ps("\n".join([
            "$ErrorActionPreference = 'Stop'",
            f"$t = @(Get-SCVMTemplate -Name '{TEMPLATE}')[0]",
            f"$hg = @(Get-SCVMHostGroup | Where-Object {{ $_.Path -eq '{HOST_GROUP}' }})[0]",
            f"foreach ($i in {start} .. {end}) {{ $null = New-SCVirtualMachine -Name ('bulk-' + $i) -VMTemplate $t "
            f"-VMHostGroup $hg -Description ('{observe.DESCRIPTION_MARK}bulk-' + $i) -RunAsynchronously }}",
            "'done'",
        ]))
        if result.std_out.decode().strip() != "done":
            raise RuntimeError(f"filling the simulator failed at {start}: {result.std_err[-500:]!r}")
    return sum(1 for vm in simulator.vms() if observe.DESCRIPTION_MARK in str(vm.get("description") or ""))


def bulk_read(state: StackState, simulator: Simulator) -> tuple[dict[str, float], dict[str, int]]:
    """herder's bulk drift read, as its inventory runs it, through herder's own driver: first on a new shell,
    then WARM_READS times on the open one. Also the cmdlets one read made the simulator run, by name."""
    provider = SCVMMProvider(state.scvmm_url or "", Credentials(state.scvmm_username, state.scvmm_password),
                             TLSSettings(ca_bundle=state.ca.read_text()), transport="basic")
    body = observe.project_all(observe.owned())
    try:
        figures: dict[str, float] = {}
        cmdlets: dict[str, int] = {}
        warm: list[float] = []
        for i in range(1 + WARM_READS):
            simulator.reset()
            started = time.monotonic()
            rows = provider.endpoint.run("inventory", "read the VM inventory", body)
            servers = [observe.to_server(row) for row in rows or ()]
            seconds = time.monotonic() - started
            stats = simulator.stats()
            if i == 0:
                figures |= {"bulk_read_vms": len(servers), "bulk_read_cold_seconds": seconds,
                            "bulk_read_cold_requests": sum(stats["requests"].values())}
            else:
                warm.append(seconds)
                figures["bulk_read_warm_requests"] = sum(stats["requests"].values())
                cmdlets = stats["cmdlets"]
        figures["bulk_read_warm_seconds"] = statistics.median(warm)
        figures["bulk_read_warm_max_seconds"] = max(warm)
        started = time.monotonic()
        provider.vms.find(str(uuid.uuid4()))  # the full scan a create makes before New-SCVirtualMachine
        figures["find_by_uid_seconds"] = time.monotonic() - started
        return figures, cmdlets
    finally:
        provider.close()


def run(count: int, job_ms: int, bulk_vms: int, options: Options, directory: Path) \
        -> tuple[dict[str, float], HerderRun, dict[str, Any]]:
    with herder_run.world(directory, scvmm_args=("--job-seconds", str(job_ms / 1000))) as state:
        simulator = Simulator(state)
        herder_run.apply(state, manifests(state))
        simulator.reset()
        baseline_seconds = baseline(state, count)
        baseline_requests = sum(simulator.requests().values())
        with herder_run.operator(state, directory, "scvmm", options.memory_profile) as process:
            run = herder_run.measure_herder(state, process, "scvmm", herder_run.servers(count, ZONE, IMAGE),
                                            options, backend_counters=simulator.requests)
        filled = populate(state, simulator, bulk_vms)
        bulk, cmdlets = bulk_read(state, simulator)
    figures = run.figures() | bulk | {
        "job_ms": job_ms, "baseline_seconds": baseline_seconds, "ratio": run.all_ready_seconds / baseline_seconds,
        "baseline_winrm_requests_per_ecs": baseline_requests / count,
        "winrm_requests_per_ecs": sum(run.backend_side_create.values()) / count,
        "idle_winrm_requests_per_minute": sum(run.backend_side_idle.values()) * 60 / run.idle_seconds,
    }
    details = {"simulator_requests_create": run.backend_side_create,
               "simulator_requests_idle": run.backend_side_idle, "marked_vms": filled,
               "bulk_read_cmdlets": cmdlets}
    return figures, run, details


def rows(count: int, traced: bool) -> list[Row]:
    return [
        Row("plain pywinrm creates (s)", "baseline_seconds"),
        Row("ratio herder / pywinrm", "ratio", 2),
        Row("WinRM requests per create, plain script", "baseline_winrm_requests_per_ecs", 2),
        Row("WinRM requests per create, herder (simulator)", "winrm_requests_per_ecs", 2),
        Row("WinRM requests per minute, idle (simulator)", "idle_winrm_requests_per_minute", 1),
        *herder_run.rows("WinRM requests (herder's meter)", count, calls_target=None, traced=traced),
        Row("bulk drift read: marked VMs read", "bulk_read_vms", 0),
        Row("bulk drift read on a new shell (s)", "bulk_read_cold_seconds", 2),
        Row("bulk drift read on a new shell, WinRM requests", "bulk_read_cold_requests", 0),
        Row("bulk drift read on the open shell, median (s)", "bulk_read_warm_seconds", 2),
        Row("bulk drift read on the open shell, WinRM requests", "bulk_read_warm_requests", 0),
        Row("identity scan of one create (find by UID) (s)", "find_by_uid_seconds", 2),
    ]


def title(count: int, job_ms: int) -> str:
    return (f"herder bench (SCVMM): {count} ECSs on the SCVMM simulator, every VMM job {job_ms} ms, "
            f"plain script on {PASS_THREADS} threads")


def describe(details: dict[str, Any]) -> str:
    return "\n".join([
        f"simulator: WS-Management requests while herder created: {details['simulator_requests_create']}",
        f"simulator: WS-Management requests while herder idled: {details['simulator_requests_idle']}",
        f"simulator: {details['marked_vms']} VMs with herder's mark when the bulk read was timed; one read ran "
        f"{details['bulk_read_cmdlets']}",
    ])
