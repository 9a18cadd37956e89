"""How a mode's figures are printed: a table (one column per run, then the worst of them) or JSON.

Each figure is a cost, so the worst of several runs is the largest. Targets are the upper bounds of issue #18;
the table says whether a figure is within its target, and nothing fails because of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Figures = Mapping[str, float]


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    digits: int = 1
    target: float | None = None  # the figure should be at most this


def rss_target_mib(servers: int) -> float:
    """Issue #18: at most 150 MiB for 1,000 servers, 400 MiB for 10,000."""
    return 150.0 if servers <= 1000 else 400.0


def worst(runs: Sequence[Figures]) -> dict[str, float]:
    """The largest value of each figure over the runs (NaN only where every run has NaN)."""
    keys = dict.fromkeys(key for run in runs for key in run)
    return {key: max((run[key] for run in runs if key in run and not math.isnan(run[key])), default=math.nan)
            for key in keys}


def _cell(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _verdict(value: float | None, target: float | None) -> str:
    if target is None:
        return ""
    if value is None or math.isnan(value):
        return f"<= {target:g}"
    return f"<= {target:g} {'ok' if value <= target else 'OVER'}"


def table(title: str, rows: Sequence[Row], runs: Sequence[Figures]) -> str:
    columns = [dict(run) for run in runs]
    headers = [f"run {i + 1}" for i in range(len(columns))]
    if len(columns) > 1:
        columns.append(worst(runs))
        headers.append("worst")
    width = max(len(row.label) for row in rows)
    lines = [title, f"  {'':<{width}}  " + "  ".join(f"{h:>10}" for h in headers) + "  target"]
    for row in rows:
        cells = "  ".join(f"{_cell(column.get(row.key), row.digits):>10}" for column in columns)
        lines.append(f"  {row.label:<{width}}  {cells}  {_verdict(columns[-1].get(row.key), row.target)}".rstrip())
    return "\n".join(lines)


def as_json(mode: str, runs: Sequence[Figures], **extra: Any) -> str:
    document: dict[str, Any] = {"mode": mode, "runs": [dict(run) for run in runs]}
    if len(runs) > 1:
        document["worst"] = worst(runs)
    return json.dumps(_without_nan(document | extra), allow_nan=False)


def _without_nan(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(item) for item in value]
    return value
