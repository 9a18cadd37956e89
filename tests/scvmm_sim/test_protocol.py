"""The WinRM shell protocol against stock pywinrm over real HTTPS sockets."""

from __future__ import annotations

import ssl
import time
import urllib.request

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError

from conftest import Sim


def test_run_ps_round_trip(sim: Sim) -> None:
    r = sim.ps("$ProgressPreference = 'SilentlyContinue'\n$a = 40\nWrite-Output \"answer=$($a + 2)\"")
    assert r.status_code == 0
    assert r.std_out == b"answer=42\r\n"
    assert r.std_err == b""


def test_exit_code_and_output_codepage(sim: Sim) -> None:
    r = sim.ps("'grüße ✓'; exit 7")  # run_ps opens its shell with codepage 437, as on Windows
    assert r.status_code == 7
    assert r.std_out.decode("cp437") == "grüße ?\r\n"
    out, _, code = sim.raw_ps("'grüße ✓'")  # codepage 65001
    assert (out.decode("utf-8"), code) == ("grüße ✓\r\n", 0)


def test_protocol_long_lived_stdin_shell_runs_many_scripts(sim: Sim) -> None:
    p = sim.protocol()
    shell = p.open_shell(codepage=65001)
    cid = p.run_command(shell, "powershell", ["-NoProfile", "-NonInteractive", "-Command", "-"],
                        console_mode_stdin=False, skip_cmd_shell=True)
    long_script = "$total = 0\nforeach ($i in @(" + ",".join(str(n) for n in range(3000)) + ")) {\n" \
                  "  $total += $i\n}\n\nWrite-Output \"sum=$total\"\nWrite-Output '--END1--'\n"
    assert len(long_script) > 8191
    p.send_command_input(shell, cid, long_script.encode("utf-8"))
    out = b""
    while b"--END1--" not in out:
        chunk, _, _, done = p.get_command_output_raw(shell, cid)
        assert not done
        out += chunk
    assert b"sum=4498500\r\n" in out
    # Variables survive between scripts: it is one powershell process.
    p.send_command_input(shell, cid, b"Write-Output \"again=$total\"\n", end=True)
    stdout, _, code = p.get_command_output(shell, cid)
    assert stdout == b"again=4498500\r\n"
    assert code == 0
    p.cleanup_command(shell, cid)
    p.close_shell(shell)


def test_receive_long_poll_times_out_and_pywinrm_retries(sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"latency_ms": 2500})
    session = sim.session(operation_timeout_sec=1, read_timeout_sec=5)
    started = time.monotonic()
    r = session.run_ps("$ProgressPreference='SilentlyContinue'; (Get-SCVMTemplate).Count")
    assert r.std_out == b"2\r\n"
    assert time.monotonic() - started >= 2.5
    stats = sim.admin("GET", "/admin/stats")
    assert stats["requests"]["Receive"] >= 3  # at least two timed-out polls before the answer


def test_injected_receive_timeouts_fault_then_recover(sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"receive_timeouts": 2})
    p = sim.protocol(operation_timeout_sec=1, read_timeout_sec=5)
    shell = p.open_shell()
    cid = p.run_command(shell, "powershell -Command Write-Output ok")
    with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, cid)
    assert p.get_command_output(shell, cid) == (b"ok\r\n", b"", 0)
    assert sim.admin("GET", "/admin/stats")["requests"]["Receive"] == 3


def test_replies_relate_to_request_message_id(sim: Sim) -> None:
    p = sim.protocol()
    shell = p.open_shell()
    cid = p.run_command(shell, "powershell -Command 1")
    p.get_command_output(shell, cid)
    p.cleanup_command(shell, cid)  # asserts RelatesTo
    p.close_shell(shell)  # asserts RelatesTo
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        p.run_command(shell, "powershell -Command 1")
    assert info.value.wsman_fault_code == 2150858843


def test_wrong_password_is_401(sim: Sim) -> None:
    with pytest.raises(InvalidCredentialsError):
        sim.session(password="wrong").run_ps("1")
    assert requests.get(sim.url.replace("/wsman", "/admin/state"), verify=str(sim.ca), timeout=5).status_code == 401


def test_client_without_the_ca_is_refused(sim: Sim) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        winrm.Session(sim.url, auth=("herder", "x"), transport="ssl", server_cert_validation="validate",
                      ca_trust_path=None).run_ps("1")
    context = ssl.create_default_context(cafile=str(sim.ca))
    with urllib.request.urlopen(sim.url.replace("/wsman", "/healthz"), context=context) as r:
        assert r.status == 200


def test_command_line_over_8191_characters_is_rejected_by_cmd(sim: Sim) -> None:
    r = sim.ps("'" + "x" * 6000 + "'")  # UTF-16LE + base64 makes the command line ~16k
    assert r.status_code == 1
    assert b"too long" in r.std_err


def test_other_programs_than_powershell_are_not_there(sim: Sim) -> None:
    r = sim.session().run_cmd("ipconfig", ["/all"])
    assert r.status_code == 1
    assert b"not recognized" in r.std_err
