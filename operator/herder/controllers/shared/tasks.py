"""Following backend tasks: how often to look at one in flight, and waiting for a short one to end."""

from __future__ import annotations

import time
from collections.abc import Callable

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
