"""Read what a script wrote: its one JSON answer on stdout, and CLIXML error records on stderr."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

_CLIXML_HEADER = "#< CLIXML"
_PS_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass(frozen=True)
class Answer:
    ok: bool
    result: Any = None
    message: str = ""
    vmm_id: int | None = None


def clixml_errors(stderr: str) -> str:
    """The error text in a CLIXML stream (progress and other records dropped); plain text passes through."""
    text = stderr.strip()
    if not text:
        return ""
    lines: list[str] = []
    for raw in text.split(_CLIXML_HEADER):
        chunk = raw.strip()
        if not chunk:
            continue
        try:
            # The authenticated WinRM endpoint wrote it; expat refuses external entities anyway.
            root = ET.fromstring(chunk)  # noqa: S314
        except ET.ParseError:
            lines.append(chunk)
            continue
        for node in root.iter(f"{_PS_NS}S"):
            if node.get("S") == "Error" and node.text:
                lines.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), node.text))
    return "".join(lines).strip()


def first_error_line(text: str) -> str:
    """The headline of a PowerShell console error ("Cmdlet : message"), without the position lines."""
    for line in text.splitlines():
        if line.strip() and not line.startswith(("At line:", "+ ", "    + ")):
            return line.strip()
    return text.strip()


def parse(stdout: str, stderr: str) -> Answer:
    """The answer of one script. A script that could not run at all (a parse error) has no JSON line:
    then the errors on stderr are the answer."""
    for raw in reversed(stdout.splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "ok" in data:
                if data["ok"]:
                    return Answer(ok=True, result=data.get("result"))
                error = data.get("error") or {}
                vmm_id = error.get("id")
                return Answer(ok=False, message=str(error.get("message") or ""),
                              vmm_id=int(vmm_id) if vmm_id is not None else None)
    errors = clixml_errors(stderr)
    message = first_error_line(errors) if errors else "the script gave no answer"
    return Answer(ok=False, message=message)
