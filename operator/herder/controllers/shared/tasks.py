"""Following backend tasks: how often to look at one in flight, waiting for a short one to end, and the tasks
seen succeeded a moment ago."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from herder.providers.types import TaskRef, TaskResult, TaskStatus

FOLLOW_MIN_SECONDS = 0.2
FOLLOW_MAX_SECONDS = 2.0
WAIT_POLL_SECONDS = 0.2
# A task younger than this is not written to status yet (see daemon.Pass.quiet): most creates and power changes
# end sooner, and then cost one status write instead of two. Its Event says at once that it started.
QUIET_SECONDS = 5.0


def follow_delay(age: float) -> float:
    """Look again soon while a task is young, every few seconds once it is long: a quarter of its age."""
    return min(FOLLOW_MAX_SECONDS, max(FOLLOW_MIN_SECONDS, age / 4))


def quiet(age: float) -> bool:
    """Whether a task in flight this old may stay out of status for now."""
    return age < QUIET_SECONDS


def wait(read: Callable[[TaskRef], TaskResult], task: TaskRef, timeout: float) -> TaskResult:
    """Poll `task` until it ends or `timeout` passes (then it is reported still running)."""
    deadline = time.monotonic() + timeout
    while True:
        result = read(task)
        if result.status is not TaskStatus.RUNNING or time.monotonic() > deadline:
            return result
        time.sleep(WAIT_POLL_SECONDS)


# A create's new VM reaches the inventory through the watch soon after its task ends (and the watch wakes the
# server); only after this long is it read directly. Measured on vcsim with 200 creates at once on a loaded
# 2-core machine: the watch brought the VM 2.7 s after the task was seen done at the median, 4.4 s at p90.
WATCH_GRACE_SECONDS = 5.0
# How long a task seen succeeded is remembered: the passes that wait for the watch do not ask about it again.
SETTLED_MEMORY_SECONDS = 30.0


class SettledTasks:
    """Backend tasks seen succeeded, remembered briefly, with when they were first seen so. Shared by the pass
    threads; entries expire in the order they were seen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[Hashable, tuple[TaskResult, float]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key: Hashable, result: TaskResult) -> None:
        """`key` names the task on its backend (task IDs repeat across vCenters)."""
        now = self._clock()
        with self._lock:
            self._seen.setdefault(key, (result, now))
            while self._seen:
                oldest = next(iter(self._seen.values()))
                if now - oldest[1] < SETTLED_MEMORY_SECONDS:
                    break
                self._seen.popitem(last=False)

    def recall(self, key: Hashable) -> tuple[TaskResult, float] | None:
        """(the task's result, seconds since it was first seen succeeded), or None if it is not remembered."""
        with self._lock:
            hit = self._seen.get(key)
        if hit is None:
            return None
        age = self._clock() - hit[1]
        return (hit[0], age) if age < SETTLED_MEMORY_SECONDS else None
