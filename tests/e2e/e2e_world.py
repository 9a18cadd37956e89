"""Helpers for end-to-end tests: manifests, an independent govc client, waiting."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from herder_dev.stack import StackState

VCENTER = "vcsim"
ZONES = {"dc0-c0": "DC0_C0", "dc0-c1": "DC0_C1"}
CLUSTER_IMAGE = "ubuntu-e2e"


def vcenter_manifest(stack: StackState, name: str = VCENTER, secret: str = "vcsim-credentials",
                     ca_pem: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": name},
        "spec": {"server": f"127.0.0.1:{stack.processes['vcsim'].port}", "datacenter": "DC0",
                 "credentialsSecretRef": {"name": secret, "namespace": "herder-system"},
                 "tls": {"caBundle": ca_pem if ca_pem is not None else stack.ca.read_text()}},
    }


def apply(stack: StackState, *objects: dict[str, Any], namespace: str | None = None) -> None:
    stack.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects), namespace=namespace)


class Govc:
    """An independent client: what vCenter says, not what herder says."""

    def __init__(self, stack: StackState) -> None:
        self.env = os.environ | stack.env()

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["govc", *args], env=self.env, capture_output=True, text=True, check=False,
                                timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"govc {' '.join(args)}: {result.stderr}")
        return result

    def vm(self, name: str) -> dict[str, Any] | None:
        result = self("vm.info", "-json", name, check=False)
        vms = json.loads(result.stdout or "{}").get("virtualMachines") or []
        return vms[0] if vms else None

    def vms(self, prefix: str) -> list[str]:
        out = self("find", "/DC0/vm", "-type", "m", "-name", f"{prefix}*").stdout.split()
        return sorted(Path(line).name for line in out)

    @staticmethod
    def disks(vm: dict[str, Any]) -> list[int]:
        return sorted(d["capacityInBytes"] for d in vm["config"]["hardware"]["device"] if "capacityInBytes" in d)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")
