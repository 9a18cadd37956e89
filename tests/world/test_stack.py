"""The local world is real: a real API server, a real vcsim, and a clean `herder dev up/down`."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from herder_dev.processes import alive
from herder_dev.stack import StackState

HERDER = [sys.executable, "-m", "herder.cli"]


def test_crd_installed_and_custom_resource_created(kubectl, namespace: str) -> None:
    manifest = {
        "apiVersion": "herder.dev/v1alpha1", "kind": "Image",
        "metadata": {"name": "smoke", "namespace": namespace},
        "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                 "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}},
    }
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    got = json.loads(kubectl("get", "image", "smoke", "-o", "json", namespace=namespace).stdout)
    assert got["spec"]["source"]["existing"]["name"] == "ubuntu-22.04-tmpl"
    assert got["metadata"]["uid"]


def test_pyvmomi_and_govc_see_the_same_vms(stack: StackState) -> None:
    context = ssl.create_default_context(cafile=str(stack.ca))
    port = stack.processes["vcsim"].port
    si = SmartConnect(host="127.0.0.1", port=port, user=stack.vcsim_username, pwd=stack.vcsim_password,
                      sslContext=context)

    def ours() -> list[str]:
        """One PropertyCollector read of every VM's name: a consistent listing."""
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view, skip=True, selectSet=[vmodl.query.PropertyCollector.TraversalSpec(
                        name="view", path="view", skip=False, type=vim.view.ContainerView)])],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])])
            return sorted(o.propSet[0].val for o in content.propertyCollector.RetrieveContents([spec]))
        finally:
            view.Destroy()

    def theirs() -> list[str]:
        govc = subprocess.run(["govc", "find", "/", "-type", "m"], env=os.environ | stack.env(),
                              capture_output=True, text=True, check=True)
        return sorted(Path(line).name for line in govc.stdout.split())

    try:
        # Other tests share this vcsim and may be creating or deleting VMs: agree on a quiet moment.
        for _ in range(10):
            mine, govcs = ours(), theirs()
            if mine == govcs:
                break
            time.sleep(1)
    finally:
        Disconnect(si)
    assert mine == govcs
    assert "ubuntu-22.04-tmpl" in mine


def _dev(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HERDER, "dev", *args], capture_output=True, text=True, timeout=180,
                          env=env, check=False)


def test_dev_up_is_idempotent_and_down_leaves_nothing(tmp_path: Path) -> None:
    first = _dev("up", "--dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    state = StackState.load(tmp_path)
    assert state is not None
    pids = [p.pid for p in state.processes.values()]
    try:
        assert all(alive(pid) for pid in pids)
        env_lines = (tmp_path / "env").read_text()
        for key in ("KUBECONFIG", "GOVC_URL", "GOVC_TLS_CA_CERTS", "PATH"):
            assert f"export {key}=" in env_lines
        again = _dev("up", "--dir", str(tmp_path))
        assert again.returncode == 0 and "already running" in again.stdout
        assert [p.pid for p in StackState.load(tmp_path).processes.values()] == pids  # type: ignore[union-attr]
        # The env file is enough for an independent client.
        check = subprocess.run(["bash", "-c", f"source {tmp_path}/env && kubectl get ns default -o name "
                                              "&& govc about | grep -c Name"],
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        assert "namespace/default" in check.stdout
    finally:
        down = _dev("down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids)

    # Up again after down: a fresh world (the old cluster data would not match the new simulators).
    second = _dev("up", "--dir", str(tmp_path))
    try:
        assert second.returncode == 0, second.stderr
    finally:
        assert _dev("down", "--dir", str(tmp_path)).returncode == 0


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _dev("up", "--dir", str(tmp_path), "--base-port", str(port))
    assert result.returncode == 1
    assert f"port {port} (etcd client) is in use" in result.stderr


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    env = os.environ | {"HERDER_TOOLS_BIN": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"}
    result = _dev("up", "--dir", str(tmp_path / "stack"), env=env)
    assert result.returncode == 1
    assert "missing binary 'etcd'" in result.stderr and "make install" in result.stderr


def test_dead_process_shows_its_log(tmp_path: Path) -> None:
    started = _dev("up", "--dir", str(tmp_path))
    assert started.returncode == 0, started.stderr
    state = StackState.load(tmp_path)
    assert state is not None
    try:
        os.kill(state.processes["vcsim"].pid, 9)
        time.sleep(0.5)
        result = _dev("up", "--dir", str(tmp_path))
        assert result.returncode == 1
        assert "vcsim" in result.stderr and "is not running" in result.stderr and "herder dev down" in result.stderr
    finally:
        _dev("down", "--dir", str(tmp_path))
    assert not any(alive(p.pid) for p in state.processes.values())


@pytest.mark.parametrize("action", ["up", "down"])
def test_dev_requires_a_directory(action: str) -> None:
    result = _dev(action)
    # Usage errors exit 1 in every herder command: 2 is `herder plan`'s "changes".
    assert result.returncode == 1 and "--dir" in result.stderr
