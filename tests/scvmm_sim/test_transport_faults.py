"""Transport faults set through the admin API: a WinRM endpoint that hangs, and a listener that goes away."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from winrm.exceptions import WinRMTransportError

from conftest import HEAD, Sim

CLIENT_ERRORS = (requests.exceptions.RequestException, WinRMTransportError)


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except (ConnectionRefusedError, ConnectionResetError):  # reset: the listener closed with our SYN queued
        return True
    return False


@pytest.mark.timeout(60)
def test_hang_holds_winrm_requests_until_cleared(sim: Sim) -> None:
    assert sim.ps(HEAD + "(Get-SCVMTemplate).Count").std_out == b"2\r\n"
    assert sim.admin("POST", "/admin/faults", {"hang": True})["hang"] is True
    started = time.monotonic()
    with pytest.raises(CLIENT_ERRORS):
        sim.session(read_timeout_sec=3, operation_timeout_sec=2).run_ps(HEAD + "(Get-SCVMTemplate).Count")
    assert time.monotonic() - started >= 2.5  # the client gave up; the server never answered
    assert sim.admin("GET", "/admin/faults")["hang"] is True  # the admin API still answers
    sim.admin("POST", "/admin/faults", {"hang": False})
    assert sim.ps(HEAD + "(Get-SCVMTemplate).Count").std_out == b"2\r\n"


@pytest.mark.timeout(60)
def test_delete_faults_releases_a_hang(sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"hang": True})
    with pytest.raises(CLIENT_ERRORS):
        sim.session(read_timeout_sec=2, operation_timeout_sec=1).run_ps("1")
    assert sim.admin("DELETE", "/admin/faults")["hang"] is False
    assert sim.ps("1").std_out == b"1\r\n"


@pytest.mark.timeout(60)
def test_listener_outage_closes_the_port_and_reopens_it(sim: Sim) -> None:
    port = sim.running.port
    protocol = sim.protocol()
    shell = protocol.open_shell(codepage=65001)  # a kept-alive connection, opened before the outage
    assert sim.admin("POST", "/admin/faults", {"listener_outage_seconds": 3}) is not None
    deadline = time.monotonic() + 2
    while not _refused(port):
        assert time.monotonic() < deadline, "the port did not close"
        time.sleep(0.05)
    with pytest.raises(CLIENT_ERRORS):
        protocol.run_command(shell, "powershell -encodedcommand MQA=")  # its connection was dropped
    with pytest.raises(CLIENT_ERRORS):
        sim.ps("1")
    deadline = time.monotonic() + 20
    while _refused(port):
        assert time.monotonic() < deadline, "the port did not reopen"
        time.sleep(0.1)
    assert sim.running.port == port
    assert sim.ps("1").std_out == b"1\r\n"


@pytest.mark.parametrize("spec", [{"hang": "yes"}, {"listener_outage_seconds": 0}, {"listener_outage_seconds": -1},
                                  {"hang": True, "latency_ms": 1}])
def test_bad_transport_fault_specs_are_400(sim: Sim, spec: dict[str, object]) -> None:
    with pytest.raises(requests.HTTPError) as err:
        sim.admin("POST", "/admin/faults", spec)
    assert err.value.response.status_code == 400
