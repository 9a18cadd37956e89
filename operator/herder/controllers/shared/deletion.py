"""What one pass of a deletion handler decided: finished, or look again after `delay` (with why)."""

from __future__ import annotations

from dataclasses import dataclass

RETRY_SECONDS = 2.0
TASK_WAIT_SECONDS = 20.0  # a backend task a deletion starts is awaited this long within one pass


@dataclass(frozen=True)
class Deletion:
    done: bool
    message: str
    delay: float = RETRY_SECONDS
