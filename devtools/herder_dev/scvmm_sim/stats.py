"""Counters for round-trip measurements: WinRM requests, scripts, and cmdlets per script."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests: Counter[str] = Counter()
            self.cmdlets: Counter[str] = Counter()
            self.scripts: deque[dict[str, Any]] = deque(maxlen=200)
            self.script_count = 0

    def request(self, action: str) -> None:
        with self.lock:
            self.requests[action] += 1

    def script(self, text: str) -> None:
        with self.lock:
            self.script_count += 1
            self.scripts.append({"chars": len(text), "cmdlets": 0, "names": []})

    def cmdlet(self, name: str) -> None:
        with self.lock:
            self.cmdlets[name] += 1
            if self.scripts:
                self.scripts[-1]["cmdlets"] += 1
                self.scripts[-1]["names"].append(name)

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests), "commands": self.requests["Command"],
                "scripts": self.script_count, "cmdlets": dict(self.cmdlets),
                "recent_scripts": list(self.scripts),
            }
