"""PowerShell script building: quoting, the common prelude and the one JSON answer every script gives.

Every script answers with exactly one line of JSON, `{"ok": true, "result": ...}` or
`{"ok": false, "error": {"message": ..., "id": <VMM error ID or null>}}`, followed by a marker line that
tells the driver the script is done (stdin mode has no other end-of-script signal). The body sets
`$result`; anything else it writes to the output is ignored.

Windows PowerShell 5.1 rules the subset: no functions or param(), `ConvertTo-Json -InputObject` (a piped
single item loses its array), `[string]` casts on enums (they serialise as numbers), hashtables instead of
comma lists in arguments.
"""

from __future__ import annotations

import math
import uuid

# Single quotes, including the typographic ones PowerShell also accepts as quotes, are doubled.
_QUOTES = "'\u2018\u2019\u201a\u201b"
_MIB = 1 << 20
_GIB = 1 << 30

PRELUDE = (
    "$ProgressPreference = 'SilentlyContinue'; $VerbosePreference = 'SilentlyContinue'; "
    "$WarningPreference = 'SilentlyContinue'; $InformationPreference = 'SilentlyContinue'; "
    "$ErrorActionPreference = 'Stop'; $result = $null"
)

# The catch block: VMM's CarmineException text ends in "(Error ID: N)".
_CATCH = (
    "} catch { $herderMessage = [string]$_.Exception.Message; $herderId = $null; "
    "if ($herderMessage -match 'Error ID: (\\d+)') { $herderId = [int]$Matches[1] }; "
    "ConvertTo-Json -Compress -Depth 2 -InputObject @{ ok = $false; "
    "error = @{ message = $herderMessage; id = $herderId } } }"
)


def is_guid(text: str) -> bool:
    """VMM IDs are GUIDs: anything else is a name (or nothing VMM could have made)."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def quote(value: str) -> str:
    """A PowerShell single-quoted literal: nothing inside is expanded."""
    return "'" + "".join(ch + ch if ch in _QUOTES else ch for ch in value) + "'"


def mib(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / _MIB))


def gib(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / _GIB))


def wrap(body: str, marker: str, depth: int = 8) -> str:
    """The full text sent to the shell: prelude, body in try/catch, the JSON answer, the marker line.

    Blank lines are dropped: in stdin mode a blank line ends a statement that is still open.
    """
    lines = [line for line in body.splitlines() if line.strip()]
    return "\n".join(
        [
            PRELUDE,
            "try {",
            *lines,
            f"ConvertTo-Json -Compress -Depth {depth} -InputObject @{{ ok = $true; result = $result }}",
            _CATCH,
            quote(marker),
            "",
        ]
    )


def wait_job(variable: str, timeout: float, what: str) -> str:
    """Follow the job in `$variable` with Get-SCJob until it ends; throw its error if it failed.

    Used between dependent steps of one operation (stop before remove, one disk change after another),
    so that VMM does not refuse the next step with 1600 while the previous job still holds the VM.
    """
    v = "$" + variable
    return "\n".join(
        [
            f"if ({v}) {{ $herderDeadline = [datetime]::UtcNow.AddSeconds({math.ceil(timeout)})",
            f"while (-not {v}.IsCompleted) {{ if ([datetime]::UtcNow -gt $herderDeadline) "
            f"{{ throw {quote(what + ': the VMM job did not finish in time')} }}",
            f"Start-Sleep -Milliseconds 250; {v} = Get-SCJob -ID {v}.ID }}",
            f"if ([string]{v}.Status -ne 'Completed') {{ throw ({quote(what + ': ')} + "
            f"[string]{v}.ErrorInfo.Problem + ' (Error ID: ' + [string]{v}.ErrorInfo.DisplayableErrorCode + ')') }} }}",
        ]
    )


def find_cloud(variable: str, cloud: str) -> list[str]:
    """Lines that set `$variable` to the VMM cloud named `cloud`, or throw a not-found (801) error."""
    v = "$" + variable
    missing = quote(f"cloud {cloud!r} not found (Error ID: 801)")
    return [f"{v} = Get-SCCloud -Name {quote(cloud)}", f"if ($null -eq {v}) {{ throw {missing} }}"]


def find_host_group(variable: str, group: str) -> list[str]:
    """Lines that set `$variable` to the one host group whose path or name is `group`, or throw (801)."""
    v = "$" + variable
    name = quote(group)
    return [
        f"{v} = @(Get-SCVMHostGroup | Where-Object {{ $_.Path -eq {name} -or $_.Name -eq {name} }})",
        f"if ({v}.Count -ne 1) {{ throw {quote(f'host group {group!r}: found ')} + {v}.Count + "
        "' host groups (Error ID: 801)' }",
        f"{v} = {v}[0]",
    ]
