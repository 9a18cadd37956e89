"""The driver against the simulator: login, TLS, script length, round trips, WinRM hiccups."""

from __future__ import annotations

from pathlib import Path

import pytest
from scvmm_world import PASSWORD, World

from herder.errors import AuthenticationFailed, NotFound, ProviderError, TLSVerificationFailed
from herder.providers.base import Provider
from herder.providers.scvmm import SCVMMProvider
from herder_dev import pki


def test_info_describes_the_vmm_server(provider: SCVMMProvider) -> None:
    checked: Provider = provider  # mypy: the SCVMM provider is a Provider
    info = checked.endpoint.info()
    assert (info.version, info.instance_uuid) == ("10.22.1287.0", "vmm01.herder.test")


def test_wrong_password_is_authentication_failed_without_the_password(world: World) -> None:
    wrong = "not-" + PASSWORD
    p = world.provider(password=wrong)
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            p.endpoint.info()
    finally:
        p.close()
    assert wrong not in str(caught.value) and "herder" in str(caught.value)


def test_untrusted_ca_is_tls_verification_failed(world: World, tmp_path: Path) -> None:
    other = pki.ensure_ca(tmp_path / "other")
    p = world.provider(ca_pem=other.cert.read_text())
    try:
        with pytest.raises(TLSVerificationFailed):
            p.endpoint.info()
    finally:
        p.close()


def test_a_script_longer_than_a_command_line_runs(provider: SCVMMProvider) -> None:
    padding = "x" * 9000
    body = f"$s = '{padding}'\n$result = $s.Length"
    assert len(body) > 8191
    assert provider.endpoint.run("test", "measure a long string", body) == 9000


def test_vmm_errors_and_unparsable_scripts_become_provider_errors(provider: SCVMMProvider) -> None:
    with pytest.raises(NotFound, match="Error ID: 801"):
        provider.endpoint.run("test", "fail", "throw 'VMM cannot find the object. (Error ID: 801)'")
    with pytest.raises(ProviderError, match="Get-Nothing"):
        provider.endpoint.run("test", "fail", "Get-Nothing")
    assert provider.endpoint.run("test", "still alive", "$result = 1 + 1") == 2


def test_one_shell_is_reused_and_a_find_costs_two_requests(world: World, provider: SCVMMProvider) -> None:
    provider.endpoint.info()  # opens the shell and the PowerShell process
    before = world.requests_made()
    counts = provider.endpoint.request_counts()
    for _ in range(3):
        assert provider.vms.find("a2b3c4d5-0000-4000-8000-000000000000") is None
    after = world.requests_made()
    assert after.get("Create", 0) == before.get("Create", 0)  # no new shell
    assert after.get("Command", 0) == before.get("Command", 0)  # no new process
    spent = provider.endpoint.request_counts()["find"] - counts.get("find", 0)
    assert spent <= 3 * 3  # one Send and one (rarely two) Receive per find
    assert after["Send"] - before["Send"] == 3


def test_receive_timeouts_are_ridden_out(world: World, provider: SCVMMProvider) -> None:
    provider.endpoint.info()
    world.admin("POST", "/admin/faults", {"receive_timeouts": 2})
    assert provider.vms.find("a2b3c4d5-0000-4000-8000-000000000000") is None
    assert world.admin("GET", "/admin/faults")["receive_timeouts"] == 0


def test_a_dead_shell_is_replaced(world: World, provider: SCVMMProvider) -> None:
    with pytest.raises(ProviderError, match="ended unexpectedly"):
        provider.endpoint.run("test", "end the process", "exit 3")
    assert provider.endpoint.run("test", "after", "$result = 'back'") == "back"
