"""The operator can also run in-process under kopf.testing.KopfRunner (as the chart's ServiceAccount, like every
operator the tests run): a handler fires and patches status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kopf.testing import KopfRunner
from kubernetes.config import kube_config

import herder.controllers
from herder_dev.operator_identity import ServiceAccountLogin
from herder_dev.stack import StackState


def test_a_handler_patches_status_that_kubectl_reads_back(stack: StackState, operator_login: ServiceAccountLogin,
                                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kubeconfig = str(operator_login.kubeconfig(tmp_path / "kubeconfig"))
    for key, value in (stack.env() | {"KUBECONFIG": kubeconfig}).items():
        monkeypatch.setenv(key, value)
    # The kubernetes client reads $KUBECONFIG once, at import time.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", kubeconfig)
    name = f"inprocess-{tmp_path.name[-6:].lower().replace('_', '-')}"
    manifest = {"apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": name},
                "spec": {"server": f"127.0.0.1:{stack.processes['vcsim'].port}", "datacenter": "DC0",
                         "credentialsSecretRef": {"name": "vcsim-credentials", "namespace": "herder-system"},
                         "tls": {"caBundle": stack.ca.read_text()}}}
    stack.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status: dict[str, object] = {}
    try:
        module = str(Path(herder.controllers.__file__))
        with KopfRunner(["run", "--standalone", "--all-namespaces", module], timeout=60) as runner:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not status.get("version"):
                time.sleep(0.5)
                status = json.loads(stack.kubectl("get", "vcenter", name, "-o", "json").stdout).get("status") or {}
        assert runner.exception is None, runner.exception
    finally:
        stack.kubectl("delete", "vcenter", name, "--wait=false")
    conditions = {c["type"]: c for c in status.get("conditions") or []}  # type: ignore[attr-defined]
    assert conditions["Ready"]["status"] == "True", status
    assert "govmomi simulator" in str(status["version"]) or status["version"]
    assert status["instanceUUID"]
