"""Scripts outside what PowerShell and VMM accept fail as PowerShell fails: CLIXML on stderr, exit code 1."""

from __future__ import annotations

import pytest

from conftest import Sim, clixml_errors

PREAMBLE = "$ProgressPreference = 'SilentlyContinue'\n"


@pytest.mark.parametrize(("script", "expected"), [
    ("Get-SCVirtualMachin -All", "The term 'Get-SCVirtualMachin' is not recognized"),
    ("Get-SCVirtualMachine -Everything", "A parameter cannot be found that matches parameter name 'Everything'."),
    ("Get-SCVirtualMachine -ID 'not-a-guid'", "Cannot convert value \"not-a-guid\" to type \"System.Guid\""),
    ("Set-SCVirtualMachine -VM 'vm1' -CPUCount 2", "to type \"Microsoft.SystemCenter.VirtualMachineManager.VM\""),
    ("$vm = Get-SCVirtualMachine -All; Set-SCVirtualMachine -CPUCount 2",
     "missing mandatory parameters: VM."),
    ("Get-SCVirtualMachine -VM $null", "ambiguous. Possible matches include: -VMHost -VMMServer"),
    ("New-SCVirtualMachine -Name x -CPUCount 300", "Value was either too large or too small for an unsigned byte"),
    ("Set-SCVirtualMachine -DynamicMemoryEnabled 'yes'", "Boolean parameters accept only Boolean values"),
    ("Get-SCVirtualMachine -Name a -ID ([guid]::NewGuid())", "Parameter set cannot be resolved"),
    ("$x = @(1, 2", "Unexpected token or incomplete statement"),
    ("function f { 1 }", "does not support the statement 'function_statement'"),
])
def test_bad_calls_write_clixml_errors_and_exit_1(sim: Sim, script: str, expected: str) -> None:
    out, err, code = sim.raw_ps(PREAMBLE + script)
    assert code == 1
    assert out == b""
    assert expected in clixml_errors(err)


def test_run_ps_turns_the_clixml_into_text(sim: Sim) -> None:
    r = sim.ps(PREAMBLE + "Get-SCVirtualMachine -Everything")
    assert r.status_code == 1
    assert r.std_err.startswith(b"Get-SCVirtualMachine : A parameter cannot be found")
    assert b"FullyQualifiedErrorId : NamedParameterNotFound" in r.std_err


def test_unmodelled_property_is_loud_not_null(sim: Sim) -> None:
    out, err, code = sim.raw_ps(PREAMBLE + "try { (Get-SCVMTemplate)[0].NoSuchProperty } catch { 'masked' }")
    assert (out, code) == (b"", 1)  # not catchable: a driver cannot hide it
    assert "does not support the property 'NoSuchProperty'" in clixml_errors(err)


def test_errors_without_stop_continue_with_the_next_statement(sim: Sim) -> None:
    out, err, code = sim.raw_ps(PREAMBLE + "Get-Nothing\n'after'")
    assert out == b"after\r\n"
    assert code == 0  # the last statement succeeded, as powershell.exe reports it
    assert "Get-Nothing" in clixml_errors(err)


def test_stop_preference_ends_the_script(sim: Sim) -> None:
    out, err, code = sim.raw_ps(PREAMBLE + "$ErrorActionPreference = 'Stop'\nGet-Nothing\n'after'")
    assert (out, code) == (b"", 1)
    assert "Get-Nothing" in clixml_errors(err)


def test_vmm_error_goes_to_catch_with_its_error_id(sim: Sim) -> None:
    sim.admin("POST", "/admin/faults", {"cmdlet": "Get-SCVMTemplate", "error_id": 1600, "times": 1})
    r = sim.ps(PREAMBLE + "$ErrorActionPreference = 'Stop'\n"
               "try { Get-SCVMTemplate } catch { 'caught: ' + $_.Exception.Message }\n"
               "(Get-SCVMTemplate).Count")
    assert r.status_code == 0
    lines = r.std_out.decode().splitlines()
    assert lines[0].startswith("caught: ") and lines[0].endswith("(Error ID: 1600)")
    assert lines[1] == "2"


def test_progress_record_unless_silenced(sim: Sim) -> None:
    _, err, code = sim.raw_ps("(Get-SCVMTemplate).Count")
    assert code == 0
    assert b'<Obj S="progress"' in err
    _, err, _ = sim.raw_ps(PREAMBLE + "(Get-SCVMTemplate).Count")
    assert err == b""
