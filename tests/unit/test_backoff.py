"""Bounded exponential backoff that a wake-up cannot speed up."""

from __future__ import annotations

import time

from herder.controllers.shared.backoff import Backoff


def test_the_delay_grows_only_when_a_retry_was_due() -> None:
    backoff = Backoff(cap=8.0)
    assert backoff.retry("a") == (2.0, True)
    left, grew = backoff.retry("a")  # woken early by something else
    assert not grew and 1.5 < left <= 2.0
    backoff.retry_at["a"] = time.monotonic()  # the 2 s have passed
    assert backoff.retry("a") == (4.0, True)
    for _ in range(3):
        backoff.retry_at["a"] = time.monotonic()
        backoff.retry("a")
    assert backoff.failures["a"] == 5 and backoff.remaining("a") <= 8.0  # capped
    backoff.succeeded("a")
    assert backoff.due("a") and backoff.retry("a") == (2.0, True)


def test_holding_means_a_failure_whose_retry_is_not_due() -> None:
    backoff = Backoff()
    assert not backoff.holding("a")
    backoff.failed("a")
    assert backoff.holding("a")
    backoff.retry_at["a"] = time.monotonic()
    assert not backoff.holding("a")
