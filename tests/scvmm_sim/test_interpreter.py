"""The PowerShell subset on pure scripts, without the network."""

from __future__ import annotations

import json

import pytest

from herder_dev.scvmm_sim.ps.runspace import Runspace


def run(script: str) -> tuple[str, int]:
    result = Runspace([]).run(script)
    assert result.stderr == "", result.stderr
    return result.stdout, result.exit_code


def test_pipeline_with_script_blocks() -> None:
    out, _ = run("@(1,2,3,4) | Where-Object { $_ % 2 -eq 0 } | ForEach-Object { $_ * 10 }")
    assert out == "20\r\n40\r\n"


def test_select_object_and_calculated_property() -> None:
    out, _ = run("$items = @([pscustomobject]@{N='a'; V=1}, [pscustomobject]@{N='b'; V=2})\n"
                 "$items | Select-Object -Property @('N', @{Name='Double'; Expression={ $_.V * 2 }}) -Last 1 |"
                 " ConvertTo-Json -Compress")
    assert json.loads(out) == {"N": "b", "Double": 4}


def test_string_expansion_and_escapes() -> None:
    out, _ = run("$o = [pscustomobject]@{ Name = 'vm1' }\n\"n=$($o.Name) raw=$o.Name tab=`t q=`\"x`\" ''\"")
    assert out == "n=vm1 raw=@{Name=vm1}.Name tab=\t q=\"x\" ''\r\n"


def test_try_catch_finally_and_throw() -> None:
    out, code = run("try { throw 'boom' } catch { \"caught $($_.Exception.Message)\" } finally { 'finally' }")
    assert (out, code) == ("caught boom\r\nfinally\r\n", 0)


def test_uncaught_throw_ends_script_with_exit_1() -> None:
    result = Runspace([]).run("'before'\nthrow 'boom'\n'after'")
    assert (result.stdout, result.exit_code) == ("before\r\n", 1)
    assert "boom" in result.stderr


@pytest.mark.parametrize(("script", "expected"), [
    ("@(1) | ConvertTo-Json -Compress", "1"),  # a piped single item loses its array
    ("ConvertTo-Json -InputObject @(1) -Compress", "[1]"),
    (",@(1) | ConvertTo-Json -Compress", "[1]"),
    ("@() | ConvertTo-Json -Compress", ""),
    ("ConvertTo-Json -InputObject @() -Compress", "[]"),
    ("[pscustomobject]@{ A = @(1) } | ConvertTo-Json -Compress", '{"A":[1]}'),
    ("@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress", '{"a":{"b":{"c":"System.Collections.Hashtable"}}}'),
    ("@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress -Depth 5", '{"a":{"b":{"c":{"d":1}}}}'),
    ("[pscustomobject]@{ S = '<a&b>' } | ConvertTo-Json -Compress", '{"S":"\\u003ca\\u0026b\\u003e"}'),
    ("[pscustomobject]@{ D = [datetime]::UtcNow } | ConvertTo-Json -Compress", None),
])
def test_convert_to_json_shapes(script: str, expected: str | None) -> None:
    out, _ = run(script)
    if expected is None:
        assert out.startswith('{"D":"\\/Date(') and out.endswith(')\\/"}\r\n')
        assert json.loads(out)["D"].startswith("/Date(")
    else:
        assert out == (expected + "\r\n" if expected else "")


def test_uncompressed_json_is_indented() -> None:
    out, _ = run("[pscustomobject]@{ A = 1 } | ConvertTo-Json")
    assert out == '{\r\n    "A":  1\r\n}\r\n'


def test_comparison_operators() -> None:
    out, _ = run("@(1,2,3) -gt 1 | ForEach-Object { $_ }\n'abc' -like 'A*'\n'x10' -match 'x(\\d+)'\n"
                 "$Matches[1]\n'10' -eq 10\n$null -eq $missing\n@('a','b') -contains 'B'")
    assert out.split("\r\n")[:-1] == ["2", "3", "True", "True", "10", "True", "True", "True"]


def test_hashtables_and_members() -> None:
    out, _ = run("$h = @{}; $h['a'] = 1; $h.B = 2; $h.Count; $h.b; $h.ContainsKey('A'); @($h.Keys).Count")
    assert out.split("\r\n")[:-1] == ["2", "2", "True", "2"]


def test_foreach_break_continue_and_exit_code() -> None:
    out, code = run("foreach ($i in @(1,2,3,4)) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }"
                    "\nexit 5")
    assert (out, code) == ("1\r\n3\r\n", 5)


def test_guid_and_format_operator() -> None:
    out, _ = run("$g = [guid]::NewGuid(); $g.ToString().Length; '{0}-{1:D3}' -f 'vm', 7")
    assert out == "36\r\nvm-007\r\n"


def test_non_terminating_error_with_silently_continue() -> None:
    result = Runspace([]).run("Write-Error 'bad' -ErrorAction SilentlyContinue; 'ok'")
    assert (result.stdout, result.stderr, result.exit_code) == ("ok\r\n", "", 0)


def test_unsupported_construct_is_loud_and_uncatchable() -> None:
    result = Runspace([]).run("try { $x = 1 -band 3 } catch { 'hidden' }")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "does not support the operator -band" in result.stderr


def test_variables_persist_across_runs_of_one_runspace() -> None:
    rs = Runspace([])
    rs.run("$x = 41")
    assert rs.run("$x + 1").stdout == "42\r\n"


@pytest.mark.parametrize("properties", ["Name,Status", "Name, Status", "Name ,Status", "-Property Name,Status",
                                        "-Property:Name, Status"])
def test_a_bare_word_list_is_one_array_argument(properties: str) -> None:
    out, _ = run("$items = @([pscustomobject]@{Name='a'; Status=1; Id=3})\n"
                 f"$items | Select-Object {properties} | ConvertTo-Json -Compress")
    assert json.loads(out) == {"Name": "a", "Status": 1}


def test_a_bare_word_list_keeps_its_order_and_length() -> None:
    out, _ = run("$i = [pscustomobject]@{A=1; B=2; C=3}\n$i | Select-Object C, A,B | ConvertTo-Json -Compress")
    assert list(json.loads(out)) == ["C", "A", "B"]
    assert run("$s = 'x, y'; $s")[0] == "x, y\r\n"  # literals are left alone


def test_a_dangling_comma_is_still_a_parse_error() -> None:
    result = Runspace([]).run("Select-Object Name,")
    assert result.exit_code == 1 and "Unexpected token" in result.stderr
