"""The one retry rule: bounded exponential backoff per object."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Bounded exponential backoff per object: 2, 4, 8 ... `cap` seconds, and when the next try is due."""

    cap: float = 120.0
    failures: dict[str, int] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)  # time.monotonic() of the next try

    def failed(self, key: str) -> float:
        count = self.failures.get(key, 0) + 1
        self.failures[key] = count
        delay = float(min(self.cap, 2**count))
        self.retry_at[key] = time.monotonic() + delay
        return delay

    def remaining(self, key: str) -> float:
        """Seconds until the next try is due (0: due now, or no failure recorded)."""
        return max(self.retry_at.get(key, 0.0) - time.monotonic(), 0.0)

    def due(self, key: str) -> bool:
        # A timer may fire a hair early: within 50 ms counts as due.
        return self.remaining(key) <= 0.05

    def holding(self, key: str) -> bool:
        """A failure is recorded and its retry is not due yet."""
        return key in self.failures and not self.due(key)

    def retry(self, key: str) -> tuple[float, bool]:
        """After a failed pass: (seconds until the next try, whether the backoff grew). A pass that was woken
        before its retry was due (something else changed) keeps the time left instead of growing the delay."""
        if self.holding(key):
            return self.remaining(key), False
        return self.failed(key), True

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)
        self.retry_at.pop(key, None)
