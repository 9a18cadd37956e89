"""`make demo`: the stack, the examples, the operator, and ECSs reaching Ready beside what govc sees."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import Process, Stack, StackState
from herder_dev.tools import REPO_ROOT

NAMESPACE = "demo"
# Kinds whose controllers exist today; the other examples are applied and wait for theirs.
EXAMPLES = ("vcenter.yaml", "availabilityzone.yaml", "clusterimage.yaml", "image.yaml", "elasticcloudserver.yaml",
            "elasticcloudserver-windows.yaml", "scvmm.yaml", "elasticcloudserver-scvmm.yaml")
NAMESPACED = frozenset({"image.yaml", "elasticcloudserver.yaml", "elasticcloudserver-windows.yaml",
                        "elasticcloudserver-scvmm.yaml"})
EXTRA_SERVERS = ("app-1", "app-2")
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


def _server(name: str) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer", "metadata": {"name": name},
            "spec": {"image": {"kind": "ClusterImage", "name": "windows-2022"}, "availabilityZone": "dc0-c0",
                     "cpu": 1, "memory": "1Gi"}}


def _ready(state: StackState) -> tuple[int, int]:
    items = json.loads(state.kubectl("get", "ecs", "-o", "json", namespace=NAMESPACE).stdout)["items"]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    stack = Stack(args.dir)
    state = stack.up()
    state.kubectl("create", "namespace", NAMESPACE, check=False)
    for name in EXAMPLES:
        docs = _documents(state, name)
        state.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs),
                      namespace=NAMESPACE if name in NAMESPACED else None)
    state.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([_server(n) for n in EXTRA_SERVERS]),
                  namespace=NAMESPACE)
    if "herder" not in state.processes:
        operator = OperatorProcess(state, args.dir / "logs" / "herder.log")
        operator.start()
        assert operator.proc is not None
        # Recorded with the stack, so `herder dev down` (make demo-down) stops the operator too.
        state.processes["herder"] = Process(pid=operator.proc.pid, port=operator.metrics_port,
                                            log=str(operator.log_path))
        state.save()
        print(f"herder is running (log: {operator.log_path}, metrics: {operator.metrics_url})")
    deadline = time.monotonic() + args.timeout
    while (counts := _ready(state))[0] < counts[1] and time.monotonic() < deadline:
        print(f"  {counts[0]}/{counts[1]} ECSs Ready...")
        time.sleep(2)
    _show(state)
    print(f"""The stack and herder keep running. To use them:
    source {state.env_file}
    kubectl get herder -A          # every herder object
    kubectl describe ecs -n {NAMESPACE} web-1
    govc ls /DC0/vm                # what vCenter (vcsim) holds
Stop everything with: make demo-down   (or: herder dev down --dir {args.dir})""")
    ready, total = _ready(state)
    return 0 if ready == total else 1


if __name__ == "__main__":
    sys.exit(main())
