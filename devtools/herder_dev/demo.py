"""`make demo`: the stack, the examples, the operator, ECSs reaching Ready beside what govc sees, and a snapshot
of web-1 Ready beside `govc snapshot.tree`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from herder.api.metadata import Scope
from herder.api.registry import BY_KIND
from herder_dev import operator_identity
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import Process, Stack, StackState
from herder_dev.tools import REPO_ROOT

NAMESPACE = "demo"
# The servers the demo applies carry this label, so `herder plan --prune -l` can tell what the demo manages.
PART_OF = {"app.kubernetes.io/part-of": "herder-demo"}
# Kinds whose controllers exist today; the other examples are applied and wait for theirs.
EXAMPLES = ("vcenter.yaml", "availabilityzone.yaml", "clusterimage.yaml", "image.yaml", "elasticcloudserver.yaml",
            "elasticcloudserver-windows.yaml", "scvmm.yaml", "elasticcloudserver-scvmm.yaml")
EXTRA_SERVERS = ("app-1", "app-2")
# Applied once the servers are Ready: a snapshot of web-1, and a nightly schedule (it waits for 02:00).
SNAPSHOT_EXAMPLES = ("serversnapshot.yaml", "serversnapshotschedule.yaml")
SNAPSHOT = "web-1-before-upgrade"
SIM_SHARE = "\\\\vmm01.herder.test\\MSSCVMMLibrary"
# What the SCVMM simulator holds, read through plain pywinrm (an independent client) for the demo's VMs.
SCVMM_VIEW = (
    "$ProgressPreference = 'SilentlyContinue'\n"
    "Get-SCVirtualMachine -All | Where-Object { $_.Name -like 'demo.*' } | ForEach-Object { '{0} | computer {1} | "
    "{2} | {3} CPU, {4} MB | {5}' -f $_.Name, $_.ComputerName, [string]$_.Status, $_.CPUCount, $_.Memory, "
    "((@($_.VirtualNetworkAdapters) | ForEach-Object { [string]$_.VMNetwork + ' ' + (@($_.IPv4Addresses) -join ',') }) "
    "-join '; ') }"
)


def _documents(state: StackState, name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((REPO_ROOT / "examples" / name).read_text()) if d]
    for doc in docs:
        if doc["kind"] == "ElasticCloudServer":
            doc["metadata"]["labels"] = {**(doc["metadata"].get("labels") or {}), **PART_OF}
        if doc["kind"] == "VCenter":  # point the example at this stack's vcsim and trust its CA
            doc["spec"]["server"] = f"127.0.0.1:{state.processes['vcsim'].port}"
            doc["spec"]["tls"] = {"caBundle": state.ca.read_text()}
        if doc["kind"] == "SCVMM" and state.scvmm_url:  # ... and at this stack's SCVMM simulator
            doc["spec"] |= {"endpoint": state.scvmm_url, "transport": "basic",
                            "tls": {"caBundle": state.ca.read_text()}}
        if doc["kind"] == "AvailabilityZone" and "scvmm" in doc["spec"]:  # ... its library and seeded networks
            doc["spec"]["scvmm"] |= {"libraryShare": SIM_SHARE, "logicalNetwork": "Herder-LN",
                                     "vmNetwork": "Herder-VMNet"}
    return docs


def server_manifest(name: str) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer",
            "metadata": {"name": name, "labels": dict(PART_OF)},
            "spec": {"image": {"kind": "ClusterImage", "name": "windows-2022"}, "availabilityZone": "dc0-c0",
                     "cpu": 1, "memory": "1Gi"}}


def _apply(state: StackState, docs: list[dict[str, Any]], kept: Path | None) -> None:
    """Apply `docs`, the namespaced ones in namespace NAMESPACE; keep them in file `kept` too when given."""
    for doc in docs:
        if doc["kind"] == "Secret" or BY_KIND[doc["kind"]].scope is Scope.NAMESPACED:
            doc["metadata"].setdefault("namespace", NAMESPACE)
    text = yaml.safe_dump_all(docs)
    if kept is not None:
        kept.write_text(text)
    state.kubectl("apply", "-f", "-", input=text)


def apply_examples(state: StackState, manifests: Path | None = None) -> None:
    """The examples, pointed at this stack's simulators, and two more servers, in namespace NAMESPACE. Kept in
    directory `manifests` when given, one file per example, to edit and try `herder plan` on (docs/plan.md)."""
    state.kubectl("create", "namespace", NAMESPACE, check=False)
    applied = [(name, _documents(state, name)) for name in EXAMPLES]
    applied.append(("servers.yaml", [server_manifest(n) for n in EXTRA_SERVERS]))
    for name, docs in applied:
        _apply(state, docs, manifests / name if manifests is not None else None)


def ready_counts(state: StackState, namespace: str = NAMESPACE) -> tuple[int, int]:
    """(Ready ECSs, all ECSs) in `namespace`."""
    items = json.loads(state.kubectl("get", "ecs", "-o", "json", namespace=namespace).stdout)["items"]
    ready = sum(any(c["type"] == "Ready" and c["status"] == "True" for c in (i.get("status") or {}).get(
        "conditions", [])) for i in items)
    return ready, len(items)


def _show(state: StackState) -> None:
    print(state.kubectl("get", "ecs", "-n", NAMESPACE, "-o", "wide").stdout)
    found = subprocess.run(["govc", "find", "/DC0/vm", "-type", "m", "-name", f"{NAMESPACE}.*"],
                           env=os.environ | state.env(), capture_output=True, text=True, check=False)
    names = [Path(line).name for line in found.stdout.split()]
    print("what govc (an independent vSphere client) reports for the same VMs:")
    for name in sorted(names):
        info = subprocess.run(["govc", "vm.info", f"/DC0/vm/{name}"], env=os.environ | state.env(),
                              capture_output=True, text=True, check=False).stdout
        keep = [line.strip() for line in info.splitlines()
                if line.strip().startswith(("Name:", "CPU:", "Memory:", "Power state:", "Host:"))]
        print("  " + " | ".join(keep))
    if state.scvmm_url:
        import winrm

        session = winrm.Session(state.scvmm_url, auth=(state.scvmm_username, state.scvmm_password), transport="ssl",
                                server_cert_validation="validate", ca_trust_path=str(state.ca))
        result = session.run_ps(SCVMM_VIEW)
        print("what SCVMM (the simulator, asked over plain WinRM) reports for its VMs:")
        for line in result.std_out.decode(errors="replace").splitlines():
            print("  " + line)
        print(state.kubectl("get", "images,clusterimages", "-A").stdout)


def _snapshot_ready(state: StackState) -> bool:
    found = state.kubectl("get", "ssnap", SNAPSHOT, "-o", "json", namespace=NAMESPACE, check=False)
    if found.returncode != 0:
        return False
    status = json.loads(found.stdout).get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def _show_snapshots(state: StackState) -> None:
    print(state.kubectl("get", "ssnap,ssched", "-n", NAMESPACE, "-o", "wide").stdout)
    tree = subprocess.run(["govc", "snapshot.tree", "-vm", f"{NAMESPACE}.web-1", "-i", "-D", "-d", "-c=false"],
                          env=os.environ | state.env(), capture_output=True, text=True, check=False).stdout
    print(f"what govc snapshot.tree reports for {NAMESPACE}.web-1:")
    print("\n".join(f"  {line}" for line in tree.splitlines()) or "  (no snapshot)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    stack = Stack(args.dir)
    state = stack.up()
    # What the demo applies is kept in DIR/manifests, to edit and try `herder plan` on (docs/plan.md); files left
    # from an earlier demo would describe objects this one does not have.
    manifests = args.dir / "manifests"
    shutil.rmtree(manifests, ignore_errors=True)
    manifests.mkdir(parents=True)
    apply_examples(state, manifests)
    if "herder" not in state.processes:
        # As the chart's ServiceAccount, with the chart's RBAC: what `helm install` would give it.
        login = operator_identity.install(state)
        operator = OperatorProcess(state, args.dir / "logs" / "herder.log",
                                   kubeconfig=login.kubeconfig(args.dir / "herder-operator.kubeconfig"))
        operator.start()
        assert operator.proc is not None
        # Recorded with the stack, so `herder dev down` (make demo-down) stops the operator too.
        state.processes["herder"] = Process(pid=operator.proc.pid, port=operator.metrics_port,
                                            log=str(operator.log_path))
        state.save()
        print(f"herder is running (log: {operator.log_path}, metrics: {operator.metrics_url})")
    deadline = time.monotonic() + args.timeout
    while (counts := ready_counts(state))[0] < counts[1] and time.monotonic() < deadline:
        print(f"  {counts[0]}/{counts[1]} ECSs Ready...")
        time.sleep(2)
    _show(state)
    for name in SNAPSHOT_EXAMPLES:
        _apply(state, _documents(state, name), manifests / name)
    while not _snapshot_ready(state) and time.monotonic() < deadline + 60:
        print(f"  waiting for ServerSnapshot {SNAPSHOT}...")
        time.sleep(2)
    _show_snapshots(state)
    print(f"""The stack and herder keep running. To use them:
    source {state.env_file}
    kubectl get herder -A          # every herder object
    kubectl describe ecs -n {NAMESPACE} web-1
    kubectl get ssnap,ssrestore,ssched -n {NAMESPACE}
    govc ls /DC0/vm                # what vCenter (vcsim) holds
    herder plan -f {manifests} -R   # edit the manifests first: what herder would do (docs/plan.md)
Stop everything with: make demo-down   (or: herder dev down --dir {args.dir})""")
    ready, total = ready_counts(state)
    return 0 if ready == total and _snapshot_ready(state) else 1


if __name__ == "__main__":
    sys.exit(main())
