"""How GitOps tools judge an object's health, computed by their own code on objects as the API server returns them.

- `kstatus`: cli-utils' kstatus library (what Flux, kpt and cli-utils' `apply --status` use), through the
  `kstatus` tool (tools/kstatus);
- `argocd`: an Argo CD Lua health check, by default herder's (charts/herder/health/herder.lua), run by
  gopher-lua as Argo CD runs it, through the `argocd-health` tool (tools/argocd-health).

Both take objects (dicts, e.g. the items of `kubectl get -o json`) and return one `Health` per object, in order:

    found = json.loads(stack.kubectl("get", "ecs", name, "-o", "json", namespace=ns).stdout)
    assert health.kstatus([found])[0].status == "Current"
    assert health.argocd([found])[0].status == "Healthy"
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herder_dev.tools import REPO_ROOT, tool

ARGOCD_SCRIPT = REPO_ROOT / "charts" / "herder" / "health" / "herder.lua"
_TIMEOUT_SECONDS = 60


class HealthToolError(RuntimeError):
    """The tool could not judge an object: bad input, or (Argo CD) the script failed on it."""


@dataclass(frozen=True)
class Health:
    kind: str
    namespace: str | None
    name: str
    status: str  # kstatus: InProgress, Current, Failed, Terminating; Argo CD: Healthy, Progressing, ...
    message: str


def kstatus(objects: Sequence[Mapping[str, Any]]) -> list[Health]:
    """kstatus' verdict on each object (`status.Compute`)."""
    return _run([str(tool("kstatus"))], objects)


def argocd(objects: Sequence[Mapping[str, Any]], script: Path = ARGOCD_SCRIPT) -> list[Health]:
    """Argo CD's verdict on each object with the health check `script`."""
    return _run([str(tool("argocd-health")), str(script)], objects)


def _run(argv: list[str], objects: Sequence[Mapping[str, Any]]) -> list[Health]:
    stdin = "".join(json.dumps(obj) + "\n" for obj in objects)
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise HealthToolError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    if len(reports) != len(objects):
        raise HealthToolError(f"{Path(argv[0]).name} judged {len(reports)} objects of {len(objects)}")
    return [Health(r["kind"], r.get("namespace"), r["name"], r["status"], r.get("message", "")) for r in reports]
