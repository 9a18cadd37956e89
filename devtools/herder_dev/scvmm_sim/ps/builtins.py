"""The core cmdlets a driver script uses around the VMM ones."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from herder_dev.scvmm_sim.ps import members, secrets
from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    Invocation,
    Param,
    boolean,
    integer,
    list_of,
    script_block,
    string,
)
from herder_dev.scvmm_sim.ps.errors import NotSupportedError, PSError, cmdlet_error
from herder_dev.scvmm_sim.ps.json_out import convert_from_json, convert_to_json
from herder_dev.scvmm_sim.ps.values import Hashtable, PSObject, ScriptBlock, collect, to_bool, to_str, unroll

SWITCH = "System.Management.Automation.SwitchParameter"
OBJECT = "System.Management.Automation.PSObject"
KNOWN_MODULES = ("virtualmachinemanager",)


def _any(value: Any) -> Any:
    return value


def _foreach(inv: Invocation) -> list[Any]:
    process = inv.get("Process")
    out: list[Any] = []
    for item in inv.input:
        if isinstance(process, ScriptBlock):
            out.extend(inv.interp.run_script_block(process, item, bind_under=True))
        else:  # ForEach-Object Name: member access on each item
            out.extend(unroll(members.get_member(item, to_str(process), inv.interp.strict)))
    return out


def _where(inv: Invocation) -> list[Any]:
    block = inv.get("FilterScript")
    return [i for i in inv.input if to_bool(collect(inv.interp.run_script_block(block, i, bind_under=True)))]


def _property(inv: Invocation, item: Any, spec: Any) -> tuple[str, Any]:
    if isinstance(spec, Hashtable):
        name = spec.get("Name", spec.get("n", spec.get("Label", spec.get("l"))))
        expr = spec.get("Expression", spec.get("e"))
        if name is None or expr is None:
            raise NotSupportedError("a calculated property without Name and Expression")
        value = (collect(inv.interp.run_script_block(expr, item, bind_under=True))
                 if isinstance(expr, ScriptBlock) else members.get_member(item, to_str(expr), False))
        return to_str(name), value
    name = to_str(spec)
    if "*" in name:
        raise NotSupportedError("wildcards in Select-Object -Property")
    try:
        return name, members.get_member(item, name, False)
    except NotSupportedError:
        return name, None  # Select-Object tolerates missing properties, as PowerShell does


def _select(inv: Invocation) -> list[Any]:
    items = list(inv.input)
    if inv.has("First"):
        items = items[: inv.get("First")]
    if inv.has("Last"):
        items = items[-inv.get("Last"):] if inv.get("Last") else []
    if inv.has("ExpandProperty"):
        name = inv.get("ExpandProperty")
        out: list[Any] = []
        for item in items:
            if not (isinstance(item, PSObject) and name in item.props) and not (
                    isinstance(item, Hashtable) and name in item):
                raise cmdlet_error(f'Property "{name}" cannot be found.', "ExpandPropertyNotFound,"
                                   "Microsoft.PowerShell.Commands.SelectObjectCommand", "InvalidArgument",
                                   "System.Management.Automation.PSArgumentException")
            out.extend(unroll(members.get_member(item, name, False)))
        return out
    specs = inv.get("Property")
    if specs is None:
        return items
    out = []
    for item in items:
        props = dict(_property(inv, item, s) for s in specs)
        base = item.type_name if isinstance(item, PSObject) else "System.Object"
        out.append(PSObject(f"Selected.{base}", PSObject.custom(props).props))
    return out


def _sort(inv: Invocation) -> list[Any]:
    keys = inv.get("Property") or []

    def key(item: Any) -> tuple[Any, ...]:
        values = [members.get_member(item, to_str(k), False) for k in keys] if keys else [item]
        return tuple((v is not None, to_str(v).lower() if isinstance(v, str) else v) for v in values)

    return sorted(inv.input, key=key, reverse=bool(inv.get("Descending")))


def _to_json(inv: Invocation) -> list[Any]:
    if inv.has("InputObject"):
        value = inv.get("InputObject")
    elif not inv.input:
        return []
    else:  # pipeline input is gathered; a single object is not wrapped in an array
        value = collect(inv.input)
    depth = inv.get("Depth", 2)
    if depth > 100:
        raise cmdlet_error(f"Cannot validate argument on parameter 'Depth'. The {depth} argument is greater than "
                           "the maximum allowed range of 100.", "ParameterArgumentValidationError",
                           "InvalidData", "System.Management.Automation.ParameterBindingException")
    return [convert_to_json(value, depth, bool(inv.get("Compress")))]


def _from_json(inv: Invocation) -> list[Any]:
    text = "\n".join(to_str(x) for x in ([inv.get("InputObject")] if inv.has("InputObject") else inv.input))
    try:
        return unroll(convert_from_json(text))
    except ValueError as exc:
        raise cmdlet_error(f"Invalid JSON primitive: {exc}", "System.ArgumentException,"
                           "Microsoft.PowerShell.Commands.ConvertFromJsonCommand", "NotSpecified",
                           "System.ArgumentException") from None


def _write_output(inv: Invocation) -> list[Any]:
    if inv.has("InputObject"):
        value = inv.get("InputObject")
        return [value] if inv.get("NoEnumerate") else unroll(value)
    return list(inv.input)


def _write_host(inv: Invocation) -> list[Any]:
    text = to_str(inv.get("Object", collect(inv.input) if inv.input else ""))
    inv.interp.stdout.append(text if inv.get("NoNewline") else text + "\r\n")
    return []


def _stream(kind: str) -> Cmdlet:
    def handler(inv: Invocation) -> list[Any]:
        inv.interp.stream(kind, inv.get("Message"))
        return []

    return Cmdlet(f"Write-{kind}", (Param("Message", position=0, mandatory=True, convert=string),), handler)


def _write_error(inv: Invocation) -> list[Any]:
    raise cmdlet_error(inv.get("Message"), "Microsoft.PowerShell.Commands.WriteErrorException",
                       "NotSpecified", "Microsoft.PowerShell.Commands.WriteErrorException")


def _sleep(inv: Invocation) -> list[Any]:
    seconds = inv.get("Seconds", 0) + inv.get("Milliseconds", 0) / 1000
    time.sleep(min(seconds, 300))
    return []


def _strict(inv: Invocation) -> list[Any]:
    version = inv.get("Version")
    if inv.get("Off"):
        inv.interp.strict = False
    elif version is None:
        raise NotSupportedError("Set-StrictMode without -Version or -Off")
    else:
        inv.interp.strict = True
    return []


def _import(inv: Invocation) -> list[Any]:
    for name in inv.get("Name"):
        if name.lower() not in KNOWN_MODULES:
            raise PSError(f"The specified module '{name}' was not loaded because no valid module file was found "
                          "in any module directory.", error_id="Modules_ModuleNotFound,"
                          "Microsoft.PowerShell.Commands.ImportModuleCommand", category="ResourceUnavailable",
                          exception="System.IO.FileNotFoundException", target=name)
    return []


def _get_date(inv: Invocation) -> list[Any]:
    return [dt.datetime.now(dt.UTC)]


def _out_null(inv: Invocation) -> list[Any]:
    return []


def builtins() -> list[Cmdlet]:
    pipe = Param("InputObject", OBJECT, _any, pipeline=True)
    return [
        Cmdlet("ForEach-Object", (pipe, Param("Process", "System.Management.Automation.ScriptBlock[]", _any,
                                              mandatory=True, position=0)), _foreach, whole_input=True),
        Cmdlet("Where-Object", (pipe, Param("FilterScript", "System.Management.Automation.ScriptBlock",
                                            script_block, mandatory=True, position=0)), _where, whole_input=True),
        Cmdlet("Select-Object", (pipe, Param("Property", "System.Object[]", list_of(_any), position=0),
                                 Param("First", "System.Int32", integer), Param("Last", "System.Int32", integer),
                                 Param("ExpandProperty", convert=string)), _select, whole_input=True),
        Cmdlet("Sort-Object", (pipe, Param("Property", "System.Object[]", list_of(_any), position=0),
                               Param("Descending", SWITCH, boolean, switch=True)), _sort, whole_input=True),
        Cmdlet("ConvertTo-Json", (Param("InputObject", "System.Object", _any, position=0, pipeline=True),
                                  Param("Depth", "System.Int32", integer),
                                  Param("Compress", SWITCH, boolean, switch=True)), _to_json, whole_input=True),
        Cmdlet("ConvertFrom-Json", (Param("InputObject", position=0, pipeline=True, convert=string),),
               _from_json, whole_input=True),
        Cmdlet("Write-Output", (Param("InputObject", "System.Management.Automation.PSObject[]", _any, position=0,
                                      pipeline=True), Param("NoEnumerate", SWITCH, boolean, switch=True)),
               _write_output, whole_input=True),
        Cmdlet("Write-Host", (Param("Object", "System.Object", _any, position=0, pipeline=True),
                              Param("NoNewline", SWITCH, boolean, switch=True)), _write_host, whole_input=True),
        _stream("Warning"), _stream("Verbose"), _stream("Debug"), _stream("Information"),
        Cmdlet("Write-Error", (Param("Message", position=0, mandatory=True, convert=string),), _write_error),
        Cmdlet("Out-Null", (pipe,), _out_null, whole_input=True),
        Cmdlet("Start-Sleep", (Param("Seconds", "System.Int32", integer, position=0),
                               Param("Milliseconds", "System.Int32", integer)), _sleep),
        Cmdlet("Set-StrictMode", (Param("Version", "System.Version", string),
                                  Param("Off", SWITCH, boolean, switch=True)), _strict),
        Cmdlet("Import-Module", (Param("Name", "System.String[]", list_of(string), mandatory=True, position=0),),
               _import),
        Cmdlet("Get-Date", (), _get_date),
        *secrets.cmdlets(),
    ]


ALIASES = {
    "%": "foreach-object", "foreach": "foreach-object", "?": "where-object", "where": "where-object",
    "select": "select-object", "sort": "sort-object", "echo": "write-output", "write": "write-output",
    "sleep": "start-sleep", "ipmo": "import-module",
}
