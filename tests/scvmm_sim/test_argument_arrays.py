"""Comma-joined command arguments, as PowerShell's argument mode reads them, over WinRM."""

from __future__ import annotations

import json

import pytest

from conftest import Sim, clixml_errors

PREAMBLE = "$ProgressPreference = 'SilentlyContinue'\n"
ITEMS = "$items = @([pscustomobject]@{ Name = 'vm1'; Status = 'Running'; Memory = 2048 })\n"


@pytest.mark.parametrize("selection", [
    "Name,Status",
    "Name, Status",
    "Name ,Status",
    "-Property Name , Status",
    "-Property:Name,Status",
    "'Name', Status",
    "Name, 'Status'",
    "'Name' , 'Status'",
    "Name,`\n  Status",
    "Name,\n  Status",
])
def test_select_object_takes_a_bare_word_array(sim: Sim, selection: str) -> None:
    r = sim.ps(PREAMBLE + ITEMS + f"$items | Select-Object {selection} | ConvertTo-Json -Compress")
    assert r.status_code == 0, r.std_err.decode()
    assert json.loads(r.std_out) == {"Name": "vm1", "Status": "Running"}


def test_arrays_of_other_arguments_keep_their_types(sim: Sim) -> None:
    r = sim.ps(PREAMBLE + "ConvertTo-Json -Compress -InputObject (Write-Output 1, -2, hv-a1.herder.test, 10.0.0.1)\n"
               "Write-Output (Get-SCVMTemplate | Sort-Object Name)[0].Name, x | ConvertTo-Json -Compress\n"
               "Get-SCVMTemplate | ForEach-Object { $_.Name } | Select-Object -First 1")
    assert r.status_code == 0, r.std_err.decode()
    first, second, third = r.std_out.decode().splitlines()
    assert json.loads(first) == [1, -2, "hv-a1.herder.test", "10.0.0.1"]
    assert json.loads(second) == ["ubuntu-22.04-tmpl", "x"]
    assert third == "ubuntu-22.04-tmpl"


@pytest.mark.parametrize(("script", "expected"), [
    ("$items | Select-Object Name,", "Unexpected token or incomplete statement"),  # a trailing comma
    ("$items | Select-Object Name, Status,", "Unexpected token or incomplete statement"),
    ("Write-Output 'a',", "Unexpected token or incomplete statement"),
    ("$items | Select-Object Name Status", "A positional parameter cannot be found that accepts argument 'Status'"),
])
def test_what_powershell_rejects_stays_rejected(sim: Sim, script: str, expected: str) -> None:
    out, err, code = sim.raw_ps(PREAMBLE + ITEMS + script)
    assert (out, code) == (b"", 1)
    assert expected in clixml_errors(err)
