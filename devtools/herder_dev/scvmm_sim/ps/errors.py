"""Errors as PowerShell reports them: error records, their console text, and control flow signals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tree_sitter import Node

from herder_dev.scvmm_sim.ps.values import Props, PSObject


@dataclass
class Position:
    line: int  # 1-based, as "At line:N char:M" shows it
    column: int
    line_text: str
    width: int

    @classmethod
    def of(cls, node: Node, source: bytes) -> Position:
        row, col = node.start_point
        lines = source.decode("utf-8", "replace").split("\n")
        text = lines[row].rstrip("\r") if row < len(lines) else ""
        width = max(1, min(node.end_byte - node.start_byte, len(text) - col))
        return cls(row + 1, col + 1, text, width)


class PSError(Exception):
    """A PowerShell error record: terminating when thrown, written to the error stream otherwise."""

    catchable = True

    def __init__(
        self,
        message: str,
        *,
        error_id: str,
        category: str = "NotSpecified",
        exception: str = "System.Management.Automation.RuntimeException",
        target: str = "",
        command: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.exception = exception
        self.target = target
        self.command = command
        self.position: Position | None = None
        # Properties of the exception beyond Message, e.g. the Response of a WebException.
        self.exception_props: dict[str, Any] = {}
        # A cmdlet's WriteError: -ErrorAction decides. `throw` and -ErrorAction Stop end the whole script.
        self.non_terminating = False
        self.script_terminating = False

    def at(self, node: Node, source: bytes) -> PSError:
        if self.position is None:
            self.position = Position.of(node, source)
        return self

    def record(self) -> PSObject:
        """The $_ a catch block sees."""
        exc = PSObject(self.exception, Props({"Message": self.message, **self.exception_props}), display=self.message)
        info = PSObject(
            "System.Management.Automation.ErrorCategoryInfo",
            Props({"Category": self.category, "Reason": self.exception.rsplit(".", 1)[-1]}),
            display=self.category,
        )
        return PSObject(
            "System.Management.Automation.ErrorRecord",
            Props({
                "Exception": exc, "FullyQualifiedErrorId": self.error_id, "CategoryInfo": info,
                "TargetObject": self.target,
            }),
            display=self.message,
        )

    def console_text(self) -> str:
        """The text powershell.exe writes for an uncaught error (5.1 "NormalView")."""
        head = f"{self.command} : {self.message}" if self.command else self.message
        lines = [head]
        if self.position:
            p = self.position
            lines += [
                f"At line:{p.line} char:{p.column}",
                f"+ {p.line_text}",
                "+ " + " " * (p.column - 1) + "~" * p.width,
            ]
        reason = self.exception.rsplit(".", 1)[-1]
        target = f"({self.target}:String)" if self.target else "(:)"
        lines += [
            f"    + CategoryInfo          : {self.category}: {target} [{self.command}], {reason}",
            f"    + FullyQualifiedErrorId : {self.error_id}",
            " ",
        ]
        return "\r\n".join(lines) + "\r\n"


class NotSupportedError(PSError):
    """A construct outside the simulator's subset. Uncatchable, so that no script silently 'works'."""

    catchable = False

    def __init__(self, what: str) -> None:
        super().__init__(
            f"The SCVMM simulator does not support {what}.",
            error_id="SimulatorNotSupported",
            category="NotImplemented",
            exception="System.NotSupportedException",
        )


class ParseError(PSError):
    catchable = False

    def __init__(self, message: str) -> None:
        super().__init__(
            message, error_id="ParserError", category="ParserError",
            exception="System.Management.Automation.ParseException",
        )


def runtime_error(message: str, error_id: str | None = None, category: str = "OperationStopped") -> PSError:
    """What `throw "msg"` and failing .NET conversions produce."""
    return PSError(message, error_id=error_id or message, category=category)


def cmdlet_error(message: str, error_id: str, category: str, exception: str, target: str = "") -> PSError:
    """An error a cmdlet writes with WriteError (non-terminating)."""
    err = PSError(message, error_id=error_id, category=category, exception=exception, target=target)
    err.non_terminating = True
    return err


class ScriptExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class LoopControl(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "break" or "continue"


class ReturnSignal(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value
