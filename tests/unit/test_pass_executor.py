"""Daemon passes run urgent-first: a follow-up of a task in flight overtakes passes queued before it."""

from __future__ import annotations

import contextvars
import threading

import pytest

from herder.controllers.shared.executor import PassExecutor

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_urgent_work_overtakes_queued_work_and_order_holds_within_each_urgency() -> None:
    executor = PassExecutor(workers=1)
    release, ran = threading.Event(), []
    blocker = executor.submit(False, release.wait)  # holds the only thread while the rest queues
    queued = [executor.submit(urgent, ran.append, name) for urgent, name in
              ((False, "create-1"), (False, "create-2"), (True, "follow-1"), (False, "create-3"), (True, "follow-2"))]
    release.set()
    for future in (blocker, *queued):
        future.result(timeout=5)
    assert ran == ["follow-1", "follow-2", "create-1", "create-2", "create-3"]


def test_work_runs_in_the_submitters_context_and_raises_to_it() -> None:
    executor = PassExecutor(workers=2)
    WHO.set("daemon-of-web-1")
    assert executor.submit(False, WHO.get).result(timeout=5) == "daemon-of-web-1"

    def fail() -> None:
        raise ValueError("backend said no")

    with pytest.raises(ValueError, match="backend said no"):
        executor.submit(True, fail).result(timeout=5)
