"""The wall clock that schedules read, in one place so that tests can move it.

`now()` is UTC. With HERDER_CLOCK_OFFSET_FILE set (a test world's operator, never a deployment), the number of
seconds in that file is added: an end-to-end test moves herder's clock past a cron time instead of sleeping
until it (the snapshots it causes are real backend snapshots all the same).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

OFFSET_FILE_ENV = "HERDER_CLOCK_OFFSET_FILE"


def offset_seconds() -> float:
    path = os.environ.get(OFFSET_FILE_ENV)
    if not path:
        return 0.0
    try:
        return float(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_seconds())
