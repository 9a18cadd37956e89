"""CLIXML, the form in which powershell.exe writes non-output streams when its stdout is not a console."""

from __future__ import annotations

from xml.sax.saxutils import escape

HEADER = "#< CLIXML\r\n"
_NS = "http://schemas.microsoft.com/powershell/2004/04"


def _encode(text: str) -> str:
    # PowerShell escapes control characters as _xHHHH_ inside CLIXML strings.
    return "".join(f"_x{ord(ch):04X}_" if ord(ch) < 0x20 else ch for ch in escape(text))


def error_lines(text: str) -> list[str]:
    """One <S S="Error"> per line, which is how 5.1 serialises an error record for a non-console host."""
    return [f'<S S="Error">{_encode(line)}</S>' for line in text.splitlines(keepends=True)]


def stream_line(kind: str, text: str) -> str:
    """A warning/verbose/debug/information message."""
    return f'<S S="{kind}">{_encode(text)}</S>'


def progress(activity: str) -> str:
    """The record 5.1 emits while it loads a module, unless $ProgressPreference is SilentlyContinue."""
    return (
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
        '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>'
        + _encode(activity)
        + "</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
    )


def document(records: list[str]) -> str:
    return f'{HEADER}<Objs Version="1.1.0.1" xmlns="{_NS}">{"".join(records)}</Objs>' if records else ""
