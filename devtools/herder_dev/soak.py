"""`make bench BENCH_ARGS=--soak`: herder under sustained churn on both backends, with faults.

For `--minutes` (default 10) servers are created, resized, powered and deleted on vcsim and on the SCVMM
simulator at a steady rate, while the operator is killed with SIGKILL and restarted now and then and the
backends are frozen for a while (vcsim by SIGSTOP, the simulator by its hang mode). Then the churn stops and
herder gets time to settle. At the end every ECS must match its VM, no VM may be leaked or duplicated, no
object may be stuck, and the operator's resident memory must never have passed RSS_BOUND_MIB (it is sampled every
30 s; each kill starts a new process, so the bound is on every process's peak). Prints figures; the exit status
says whether those held.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import Stack, StackState
from herder_dev.tools import tool

NAMESPACE = "soak"
MAX_SERVERS = 12  # per backend
ACTION_SECONDS = 2.0  # one change every this often
KILL_EVERY_SECONDS = 90.0
FREEZE_EVERY_SECONDS = 150.0
FREEZE_SECONDS = 20.0
SETTLE_SECONDS = 240.0
# The most resident memory the operator may reach at any time of the soak (its idle size is about 130 MiB).
RSS_BOUND_MIB = 250.0
_POWER = {"poweredOn": "On", "poweredOff": "Off", "suspended": "Suspended", "Running": "On", "PowerOff": "Off"}


@dataclass
class Backend:
    kind: str  # vcenter or scvmm
    zone: str
    image: str
    names: list[str] = field(default_factory=list)  # its live servers
    made: int = 0


@dataclass
class Tally:
    creates: int = 0
    resizes: int = 0
    powers: int = 0
    deletes: int = 0
    kills: int = 0
    freezes: int = 0
    rss_mib: list[float] = field(default_factory=list)


def _manifests(state: StackState) -> list[dict[str, Any]]:
    ca = state.ca.read_text()
    vc, vmm = {"kind": "VCenter", "name": "vcsim"}, {"kind": "SCVMM", "name": "vmm-sim"}
    return [
        {"apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": "vcsim"},
         "spec": {"server": f"127.0.0.1:{state.processes['vcsim'].port}", "datacenter": "DC0", "tls": {"caBundle": ca},
                  "credentialsSecretRef": {"name": "vcsim-credentials", "namespace": "herder-system"}}},
        {"apiVersion": "herder.dev/v1alpha1", "kind": "SCVMM", "metadata": {"name": "vmm-sim"},
         "spec": {"endpoint": state.scvmm_url, "transport": "basic", "tls": {"caBundle": ca},
                  "credentialsSecretRef": {"namespace": "herder-system", "name": "scvmm-credentials"}}},
        {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": "soak-vc"},
         "spec": {"region": "r1", "provider": vc, "vcenter": {"cluster": "DC0_C0", "datastore": "LocalDS_0",
                                                              "network": "VM Network", "folder": "vm"}}},
        {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": "soak-vmm"},
         "spec": {"region": "r2", "provider": vmm, "scvmm": {"hostGroup": "All Hosts\\Zone-A", "vmPath": "D:\\VMs",
                                                            "libraryShare": "\\\\vmm01.herder.test\\MSSCVMMLibrary",
                                                            "logicalNetwork": "Datacenter", "vmNetwork": "Tenant-A"}}},
        {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": "soak-vc"},
         "spec": {"provider": vc, "osFamily": "Linux", "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}},
        {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": "soak-vmm"},
         "spec": {"provider": vmm, "osFamily": "Linux", "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}},
    ]


class Soak:
    def __init__(self, state: StackState, operator: OperatorProcess, rng: random.Random) -> None:
        self.state, self.operator, self.rng = state, operator, rng
        self.backends = [Backend("vcenter", "soak-vc", "soak-vc"), Backend("scvmm", "soak-vmm", "soak-vmm")]
        self.tally = Tally()
        self.sim_admin = state.scvmm_url.rsplit("/wsman", 1)[0] + "/admin" if state.scvmm_url else ""

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self.state.kubectl(*args, input=stdin, check=check, namespace=NAMESPACE).stdout

    # -- churn ----------------------------------------------------------------------------------------------
    def act(self) -> None:
        backend = self.rng.choice(self.backends)
        choices = ["create"] if len(backend.names) < MAX_SERVERS else []
        if backend.names:
            choices += ["resize", "power", "power", "delete"]
        action = self.rng.choice(choices)
        if action == "create":
            backend.made += 1
            name = f"{backend.kind}-{backend.made}"
            body = {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer", "metadata": {"name": name},
                    "spec": {"image": {"kind": "ClusterImage", "name": backend.image}, "availabilityZone": backend.zone,
                             "cpu": 1, "memory": "512Mi", "powerState": "Off", "powerCyclePolicy": "Automatic"}}
            self.kubectl("apply", "-f", "-", stdin=json.dumps(body))
            backend.names.append(name)
            self.tally.creates += 1
            return
        name = self.rng.choice(backend.names)
        if action == "delete":
            self.kubectl("delete", "ecs", name, "--wait=false")
            backend.names.remove(name)
            self.tally.deletes += 1
            return
        spec = {"cpu": self.rng.choice([1, 2])} if action == "resize" else \
            {"powerState": self.rng.choice(["On", "Off"])}
        self.kubectl("patch", "ecs", name, "--type=merge", "-p", json.dumps({"spec": spec}))
        setattr(self.tally, f"{action}s", getattr(self.tally, f"{action}s") + 1)

    def kill_and_restart(self) -> None:
        self.operator.kill9()
        self.operator.start()
        self.tally.kills += 1

    def freeze(self) -> None:
        """Freeze one backend for FREEZE_SECONDS (the churn goes on meanwhile, through Kubernetes)."""
        if self.rng.random() < 0.5:
            pid = self.state.processes["vcsim"].pid
            os.kill(pid, signal.SIGSTOP)
            time.sleep(FREEZE_SECONDS)
            os.kill(pid, signal.SIGCONT)
        else:
            self._sim("POST", "faults", [{"hang": True}])
            time.sleep(FREEZE_SECONDS)
            self._sim("DELETE", "faults")
        self.tally.freezes += 1

    def _sim(self, method: str, path: str, payload: Any = None) -> Any:
        response = requests.request(method, f"{self.sim_admin}/{path}", json=payload, timeout=30,
                                    auth=(self.state.scvmm_username, self.state.scvmm_password),
                                    verify=str(self.state.ca))
        response.raise_for_status()
        return response.json()

    def sample_rss(self) -> None:
        if self.operator.proc is not None:
            status = Path(f"/proc/{self.operator.proc.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            self.tally.rss_mib.append(kib / 1024)

    # -- the verdict ----------------------------------------------------------------------------------------
    def vms(self) -> dict[str, dict[str, Any]]:
        """Every VM named after a soak server, on both backends: name -> {cpu, power, count}."""
        found: dict[str, dict[str, Any]] = {}
        env = os.environ | self.state.env()
        listing = subprocess.run([str(tool("govc")), "find", "/DC0/vm", "-type", "m", "-name", f"{NAMESPACE}.*"],
                                 env=env, capture_output=True, text=True, check=True).stdout.split()
        if listing:
            info = subprocess.run([str(tool("govc")), "vm.info", "-json", *listing], env=env, capture_output=True,
                                  text=True, check=True)
            for vm in json.loads(info.stdout).get("virtualMachines") or []:
                entry = found.setdefault(vm["name"], {"count": 0})
                entry |= {"cpu": vm["config"]["hardware"]["numCPU"],
                          "power": _POWER.get(vm["runtime"]["powerState"], vm["runtime"]["powerState"])}
                entry["count"] += 1
        for vm in self._sim("GET", "state")["vms"]:
            if str(vm["name"]).startswith(f"{NAMESPACE}."):
                entry = found.setdefault(vm["name"], {"count": 0})
                entry |= {"cpu": vm["cpu_count"], "power": _POWER.get(vm["status"], vm["status"])}
                entry["count"] += 1
        return found

    def verdict(self) -> dict[str, Any]:
        items = json.loads(self.kubectl("get", "ecs", "-o", "json"))["items"]
        vms = self.vms()
        stuck = [i["metadata"]["name"] for i in items if i["metadata"].get("deletionTimestamp")]
        live = {f"{NAMESPACE}.{i['metadata']['name']}": i for i in items if not i["metadata"].get("deletionTimestamp")}
        mismatched = [name for name, item in live.items()
                      if (vm := vms.get(name)) is None or (vm["cpu"], vm["power"]) != (item["spec"]["cpu"],
                                                                                       item["spec"]["powerState"])]
        not_ready = [name for name, item in live.items() if not any(
            c["type"] == "Ready" and c["status"] == "True" for c in (item.get("status") or {}).get("conditions", []))]
        duplicated = sorted(n for n, v in vms.items() if v["count"] > 1)
        return {"servers": len(live), "not_ready": not_ready, "mismatched": mismatched, "stuck": stuck,
                "leaked": sorted(set(vms) - set(live)), "duplicated": duplicated}


def run(minutes: float, seed: int, directory: Path) -> int:
    stack = Stack(directory)
    state = stack.up()
    try:
        if not state.scvmm_url:
            raise SystemExit("the soak needs the SCVMM simulator")
        state.kubectl("create", "namespace", NAMESPACE)
        state.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_manifests(state)))
        quick = {"HERDER_SCVMM_INVENTORY_SECONDS": "5", "HERDER_VCENTER_WATCH_SECONDS": "10"}
        operator = OperatorProcess(state, directory / "operator.log", extra_env=quick)
        operator.start()
        soak = Soak(state, operator, random.Random(seed))
        started = time.monotonic()
        next_kill, next_freeze, next_sample = KILL_EVERY_SECONDS, FREEZE_EVERY_SECONDS, 0.0
        while (elapsed := time.monotonic() - started) < minutes * 60:
            soak.act()
            if elapsed >= next_sample:
                soak.sample_rss()
                next_sample += 30.0
            if elapsed >= next_kill:
                soak.sample_rss()  # the process's size just before it dies
                soak.kill_and_restart()
                next_kill += KILL_EVERY_SECONDS
            if elapsed >= next_freeze:
                soak.freeze()
                next_freeze += FREEZE_EVERY_SECONDS
            time.sleep(ACTION_SECONDS)
        soak.sample_rss()
        settle_started = time.monotonic()
        verdict = soak.verdict()
        while time.monotonic() - settle_started < SETTLE_SECONDS and any(
                verdict[k] for k in ("not_ready", "mismatched", "stuck", "leaked", "duplicated")):
            time.sleep(5)
            verdict = soak.verdict()
        settled = time.monotonic() - settle_started
        operator.stop()
        return _report(soak.tally, verdict, minutes, settled)
    finally:
        stack.down()


def _report(tally: Tally, verdict: dict[str, Any], minutes: float, settled: float) -> int:
    peak = max(tally.rss_mib or [0.0])
    print(f"soak: {minutes:.0f} min of churn on vCenter and SCVMM")
    print(f"  changes: {tally.creates} creates, {tally.resizes} resizes, {tally.powers} power changes, "
          f"{tally.deletes} deletes")
    print(f"  faults:  {tally.kills} operator kills (SIGKILL), {tally.freezes} backend freezes of "
          f"{FREEZE_SECONDS:.0f}s")
    print(f"  settled: {settled:.0f}s after the churn stopped; {verdict['servers']} servers left")
    for key in ("not_ready", "mismatched", "stuck", "leaked", "duplicated"):
        print(f"  {key:<10} {len(verdict[key])} {verdict[key][:5] if verdict[key] else ''}")
    print(f"  operator RSS: peak {peak:.0f} MiB of {len(tally.rss_mib)} samples, at the end "
          f"{tally.rss_mib[-1] if tally.rss_mib else 0:.0f} MiB (bound {RSS_BOUND_MIB:.0f} MiB)")
    ok = not any(verdict[k] for k in ("not_ready", "mismatched", "stuck", "leaked", "duplicated")) \
        and peak <= RSS_BOUND_MIB
    print(f"  verdict: {'held' if ok else 'FAILED'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="keep the stack's files and logs here")
    args = parser.parse_args(argv)
    if args.dir is not None:
        return run(args.minutes, args.seed, args.dir)
    with tempfile.TemporaryDirectory(prefix="herder-soak-") as tmp:
        return run(args.minutes, args.seed, Path(tmp))
