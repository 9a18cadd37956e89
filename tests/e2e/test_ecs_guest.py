"""Guest setup on both backends: a Linux server with a host name, DNS domain and SSH key, a Windows server with a
computer name, an administrator password and a domain join from Secrets. What each backend received is read with
its own tools (govc: the guestinfo metadata and what the guest reports after its customization; the SCVMM
simulator's admin state: the guest OS profile the VM was made with), and the Secrets' values appear nowhere herder
writes: statuses, Events, its log, its metrics."""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_world import (
    SCVMM,
    VCENTER,
    Backend,
    Govc,
    apply,
    assert_nowhere,
    condition_is,
    secret_manifest,
    stays,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHerderTestKey alice@example"


@pytest.fixture(params=["vcenter", "scvmm"])
def backend(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess, govc: Govc) -> Backend:
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return Backend(request.param, stack, govc)


@pytest.fixture
def windows_image(stack: StackState, backend: Backend) -> Iterator[str]:
    """A ClusterImage of the backend's seeded Windows Server 2022 template."""
    name = f"win-{backend.kind}-{uuid.uuid4().hex[:6]}"
    provider = {"kind": "SCVMM", "name": SCVMM} if backend.kind == "scvmm" else {"kind": "VCenter", "name": VCENTER}
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": name},
                  "spec": {"provider": provider, "osFamily": "Windows",
                           "source": {"existing": {"name": "windows-2022-tmpl"}}}})
    try:
        yield name
    finally:
        stack.kubectl("delete", "clusterimage", name, "--wait=true", "--timeout=60s")


def received(backend: Backend, namespace: str, name: str) -> dict[str, Any]:
    """What the backend was given for the guest, read with the backend's own tools."""
    full = f"{namespace}.{name}"
    if backend.sim is not None:
        vm = backend.sim.vm(full)
        assert vm is not None
        return dict(vm["guest"])
    info = backend.govc.vm(full)
    assert info is not None
    extra = {o["key"]: o["value"] for o in info["config"].get("extraConfig") or []}
    metadata = json.loads(base64.b64decode(extra["guestinfo.metadata"])) if "guestinfo.metadata" in extra else None
    events = backend.govc("events", f"/DC0/vm/{full}").stdout
    return {"metadata": metadata, "hostName": info["guest"].get("hostName"),
            "customized": f"Customization of VM {full} succeeded" in events}


def test_a_linux_server_gets_its_host_name_domain_and_ssh_key(stack: StackState, backend: Backend,
                                                              namespace: str) -> None:
    apply(stack, backend.manifest("web", guest={"hostname": "web-01", "dnsDomain": "corp.example",
                                                "sshAuthorizedKeys": [SSH_KEY]}), namespace=namespace)
    status = wait_ready(stack, namespace, "web")
    got = received(backend, namespace, "web")
    if backend.kind == "scvmm":
        assert (got["computer_name"], got["linux_domain_name"], got["linux_administrator_ssh_key"]) == (
            "web-01", "corp.example", SSH_KEY)
        assert got["os_type"] == "Linux"
    else:
        assert got["metadata"]["local-hostname"] == "web-01.corp.example"
        assert got["metadata"]["public-keys"] == [SSH_KEY]
        assert got["customized"] and got["hostName"] == "web-01"  # LinuxPrep, applied at first boot
    # What the guest reports.
    assert status["hostname"] == "web-01"
    assert status["guestOS"]


def test_a_windows_server_gets_its_name_password_and_domain_from_secrets(
        stack: StackState, backend: Backend, operator: OperatorProcess, namespace: str, windows_image: str) -> None:
    admin_password = f"Adm1n-{uuid.uuid4().hex[:10]}!"
    join_password = f"J0in-{uuid.uuid4().hex[:10]}!"
    apply(stack, secret_manifest("admin", namespace, password=admin_password),
          secret_manifest("joiner", namespace, username="CORP\\svc-join", password=join_password),
          backend.manifest("app", image={"kind": "ClusterImage", "name": windows_image}, guest={
              "hostname": "app-server-number-1", "windows": {
                  "administrator": {"name": "admin"}, "timeZone": 110, "domain": "corp.example",
                  "domainJoin": {"name": "joiner"}, "firstLogonCommands": ["cmd /c echo ready"]}}),
          namespace=namespace)
    status = wait_ready(stack, namespace, "app", timeout=90)
    got = received(backend, namespace, "app")
    if backend.kind == "scvmm":
        assert got["computer_name"] == "app-server-numb"  # NetBIOS keeps 15 characters
        assert got["local_administrator"]["password"] == admin_password
        assert (got["domain"], got["domain_join"]["user"], got["domain_join"]["password"]) == (
            "corp.example", "CORP\\svc-join", join_password)
        assert (got["time_zone"], got["gui_run_once_commands"], got["os_type"]) == (
            110, ["cmd /c echo ready"], "Windows")
    else:
        assert got["metadata"] is None  # no cloud-init guestinfo for Windows
        assert got["customized"] and got["hostName"] == "app-server-numb"  # Sysprep, applied at first boot
    assert status["hostname"] == "app-server-numb"
    # A rotated Secret does not customize the server again (customization is a first-boot action).
    apply(stack, secret_manifest("admin", namespace, password="Rotated-" + admin_password), namespace=namespace)
    stays(lambda: condition_is(stack, "ecs", "app", namespace, "Ready", "True"), 3, what="still Ready")
    if backend.kind == "scvmm":
        assert received(backend, namespace, "app")["local_administrator"]["password"] == admin_password
    with urllib.request.urlopen(operator.metrics_url, timeout=10) as response:
        metrics = response.read().decode()
    for value in (admin_password, join_password):
        assert value not in metrics, "a secret value appears in the metrics"
    assert_nowhere(stack, operator.log(), admin_password, join_password)


def test_settings_for_the_other_os_family_are_refused(stack: StackState, backend: Backend, namespace: str,
                                                      windows_image: str) -> None:
    apply(stack, backend.manifest("mixed", image={"kind": "ClusterImage", "name": windows_image},
                                  guest={"sshAuthorizedKeys": [SSH_KEY]}), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "mixed", namespace, "Provisioned", "False",
                                           "NotSupported"), timeout=30, what="NotSupported")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
    assert "sshAuthorizedKeys are Linux settings, and the image is Windows" in message
    stays(lambda: backend.count(namespace) == 0, 2, what="no VM made")


def test_a_missing_credentials_secret_is_reported(stack: StackState, backend: Backend, namespace: str,
                                                  windows_image: str) -> None:
    apply(stack, backend.manifest("nosecret", image={"kind": "ClusterImage", "name": windows_image},
                                  guest={"windows": {"administrator": {"name": "absent"}}}), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "nosecret", namespace, "Provisioned", "False",
                                           "CredentialsUnavailable"), timeout=30, what="CredentialsUnavailable")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
    assert "spec.guest.windows.administrator" in message and "absent" in message
    assert backend.count(namespace) == 0


def test_scvmm_refuses_user_data_it_cannot_carry(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                 namespace: str) -> None:
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    scvmm = Backend("scvmm", stack, govc)
    apply(stack, secret_manifest("init", namespace, userData="#cloud-config\npackages: [nginx]\n"),
          scvmm.manifest("cloudy", guest={"userData": {"name": "init"}}), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "cloudy", namespace, "Provisioned", "False",
                                           "NotSupported"), timeout=30, what="NotSupported")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
    assert "SCVMM cannot pass cloud-init user data" in message
    stays(lambda: scvmm.count(namespace) == 0, 2, what="no VM made")
