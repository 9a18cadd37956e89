"""Injected latency and failures, set through POST /admin/faults (and cleared by DELETE /admin/faults)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Counted:
    cmdlet: str
    error_id: int
    times: int


@dataclass
class Faults:
    cmdlet_errors: list[_Counted] = field(default_factory=list)
    job_failures: list[_Counted] = field(default_factory=list)
    latency_ms: int = 0
    receive_timeouts: int = 0
    # Set while WS-Management requests are answered; a "hang" fault clears it and holds every request.
    answering: threading.Event = field(default_factory=threading.Event, repr=False)
    # A requested listener outage, in seconds: the server takes it once the admin call has been answered.
    outage_seconds: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.answering.set()

    def add(self, spec: dict[str, Any]) -> None:
        """One of {"cmdlet", "error_id", "times"}, {"job_fail", "error_id"?, "times"}, {"latency_ms"},
        {"receive_timeouts"}, {"hang": bool}, {"listener_outage_seconds"}; raises ValueError for anything else."""
        times = int(spec.get("times", 1))
        with self.lock:
            if set(spec) <= {"cmdlet", "error_id", "times"} and "cmdlet" in spec and "error_id" in spec:
                self.cmdlet_errors.append(_Counted(str(spec["cmdlet"]).lower(), int(spec["error_id"]), times))
            elif set(spec) <= {"job_fail", "error_id", "times"} and "job_fail" in spec:
                error_id = int(spec.get("error_id", 2912))
                self.job_failures.append(_Counted(str(spec["job_fail"]).lower(), error_id, times))
            elif set(spec) == {"latency_ms"}:
                self.latency_ms = int(spec["latency_ms"])
            elif set(spec) == {"receive_timeouts"}:
                self.receive_timeouts = int(spec["receive_timeouts"])
            elif set(spec) == {"hang"} and isinstance(spec["hang"], bool):
                if spec["hang"]:
                    self.answering.clear()
                else:
                    self.answering.set()
            elif set(spec) == {"listener_outage_seconds"} and 0 < float(spec["listener_outage_seconds"]) <= 600:
                self.outage_seconds = float(spec["listener_outage_seconds"])
            else:
                raise ValueError(f"unknown fault {spec}")

    def clear(self) -> None:
        with self.lock:
            self.cmdlet_errors.clear()
            self.job_failures.clear()
            self.latency_ms = self.receive_timeouts = 0
            self.answering.set()

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "cmdlet_errors": [vars(c) for c in self.cmdlet_errors],
                "job_failures": [vars(c) for c in self.job_failures],
                "latency_ms": self.latency_ms, "receive_timeouts": self.receive_timeouts,
                "hang": not self.answering.is_set(),
            }

    @staticmethod
    def _take(items: list[_Counted], cmdlet: str) -> int | None:
        for item in items:
            if item.cmdlet == cmdlet.lower():
                item.times -= 1
                if item.times <= 0:
                    items.remove(item)
                return item.error_id
        return None

    def cmdlet_error(self, cmdlet: str) -> int | None:
        with self.lock:
            return self._take(self.cmdlet_errors, cmdlet)

    def job_failure(self, cmdlet: str) -> int | None:
        with self.lock:
            return self._take(self.job_failures, cmdlet)

    def receive_timeout(self) -> bool:
        with self.lock:
            if self.receive_timeouts <= 0:
                return False
            self.receive_timeouts -= 1
            return True

    def hold(self) -> None:
        """Block a WS-Management request while a hang fault is set."""
        self.answering.wait()

    def take_outage(self) -> float | None:
        with self.lock:
            seconds, self.outage_seconds = self.outage_seconds, None
            return seconds

    def delay(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
