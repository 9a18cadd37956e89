"""One PowerShell process: runs scripts, keeps variables between them, renders stdout and CLIXML stderr."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from herder_dev.scvmm_sim.ps import clixml
from herder_dev.scvmm_sim.ps.binding import Cmdlet
from herder_dev.scvmm_sim.ps.builtins import ALIASES, builtins
from herder_dev.scvmm_sim.ps.errors import LoopControl, PSError, ReturnSignal, ScriptExit
from herder_dev.scvmm_sim.ps.interp import Interpreter, _named
from herder_dev.scvmm_sim.ps.parser import parse
from herder_dev.scvmm_sim.ps.values import Hashtable, Props, PSObject, to_str

DEFAULT_PREFERENCES = {
    "erroractionpreference": "Continue", "progresspreference": "Continue", "warningpreference": "Continue",
    "verbosepreference": "SilentlyContinue", "debugpreference": "SilentlyContinue",
    "informationpreference": "SilentlyContinue", "true": True, "false": False, "null": None,
}


@dataclass
class RunResult:
    stdout: str
    stderr: str
    exit_code: int
    exited: bool  # the script ran `exit`, which ends the powershell process


def format_item(value: Any) -> str:
    """Out-Default, simplified: scalars as text, objects as a property list."""
    if value is None:
        return ""
    if isinstance(value, PSObject | Hashtable):
        props = value.props if isinstance(value, PSObject) else value
        width = max((len(k) for k in props), default=0)
        body = "\r\n".join(f"{k.ljust(width)} : {to_str(v)}" for k, v in props.items())
        return f"\r\n{body}\r\n\r\n"
    return to_str(value) + "\r\n"


def _version_table() -> Hashtable:
    version = PSObject("System.Version", Props({"Major": 5, "Minor": 1, "Build": 17763, "Revision": 1}),
                       display="5.1.17763.1")
    return Hashtable({"PSVersion": version, "PSEdition": "Desktop"})


class Runspace:
    def __init__(self, commands: list[Cmdlet], on_command: Callable[[Cmdlet], None] | None = None) -> None:
        table = {c.name.lower(): c for c in [*builtins(), *commands]}
        variables: dict[str, Any] = dict(DEFAULT_PREFERENCES)
        variables["psversiontable"] = _version_table()
        self.loaded_modules: set[str] = set()
        self._on_command = on_command
        self.interp = Interpreter(table, ALIASES, variables, self._before_command)
        # One pipeline at a time, as in a real runspace.
        self.lock = threading.Lock()

    def _before_command(self, cmd: Cmdlet) -> None:
        if cmd.module and cmd.module not in self.loaded_modules:
            self.loaded_modules.add(cmd.module)
            if self.interp.preference("ProgressPreference").lower() != "silentlycontinue":
                self.interp.stderr.append(clixml.progress("Preparing modules for first use."))
        if self._on_command:
            self._on_command(cmd)

    def run(self, script: str) -> RunResult:
        with self.lock:
            return self._run(script)

    def _run(self, script: str) -> RunResult:
        it = self.interp
        it.stdout, it.stderr = [], []
        it.source = script.encode("utf-8")
        code, exited = 0, False
        try:
            parsed = parse(it.source)
            it.source = parsed.source
            for statement in [c for c in parsed.tree.root_node.named_children if c.type != "comment"]:
                for child in [statement] if statement.type != "statement_list" else _named(statement):
                    out: list[Any] = []
                    try:
                        it.statement(child, out)
                    finally:
                        it.stdout.extend(format_item(x) for x in out)
            code = 1 if it.statement_failed else 0
        except PSError as exc:
            it.report(exc)
            code = 1
        except ScriptExit as ex:
            code, exited = ex.code, True
        except (LoopControl, ReturnSignal):
            code = 0
        return RunResult("".join(it.stdout), clixml.document(it.stderr), code, exited)
