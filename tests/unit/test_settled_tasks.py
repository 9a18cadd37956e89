"""The memory of tasks seen succeeded: recalled with their age, per backend, forgotten after a while."""

from __future__ import annotations

from herder.controllers.shared.tasks import SETTLED_MEMORY_SECONDS, SettledTasks
from herder.providers.types import TaskResult, TaskStatus

DONE = TaskResult(TaskStatus.SUCCEEDED, result_ref="vm-42")


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_success_is_recalled_with_the_time_since_it_was_first_seen() -> None:
    clock = Clock()
    settled = SettledTasks(clock)
    settled.remember(("VCenter/a", "task-1"), DONE)
    clock.now += 1.5
    settled.remember(("VCenter/a", "task-1"), DONE)  # seen again: the first sighting counts
    assert settled.recall(("VCenter/a", "task-1")) == (DONE, 1.5)
    assert settled.recall(("VCenter/b", "task-1")) is None  # the same task ID on another vCenter


def test_successes_are_forgotten_after_a_while() -> None:
    clock = Clock()
    settled = SettledTasks(clock)
    settled.remember("old", DONE)
    clock.now += SETTLED_MEMORY_SECONDS
    assert settled.recall("old") is None
    settled.remember("new", DONE)  # remembering drops what expired
    assert list(settled._seen) == ["new"]
