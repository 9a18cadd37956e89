"""PromQL as Prometheus parses it: the `promql-metrics` tool (tools/prometheus), on Prometheus' own parser."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from herder_dev.tools import tool


class PromQLToolError(RuntimeError):
    pass


@dataclass(frozen=True)
class Parsed:
    expr: str
    metrics: frozenset[str]  # the metric names its selectors read
    unnamed: tuple[str, ...]  # selectors without a fixed metric name, e.g. {job="x"}
    error: str | None  # the parser's error; the other fields are empty then


def parse(exprs: Sequence[str]) -> list[Parsed]:
    """Parse each expression as a Prometheus server would (no experimental features)."""
    stdin = "".join(json.dumps(expr) + "\n" for expr in exprs)
    result = subprocess.run([str(tool("promql-metrics"))], input=stdin, capture_output=True, text=True, check=False,
                            timeout=60)
    if result.returncode != 0:
        raise PromQLToolError(f"promql-metrics failed ({result.returncode}): {result.stderr.strip()}")
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    if len(reports) != len(exprs):
        raise PromQLToolError(f"promql-metrics answered for {len(reports)} expressions of {len(exprs)}")
    return [Parsed(r["expr"], frozenset(r.get("metrics", ())), tuple(r.get("unnamed", ())), r.get("error"))
            for r in reports]
