"""Fixtures for the sync-path tests: the harness around the fake provider, and the stand-in for herder.kube."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.harness import Harness
from fakes.kube import FakeKube


@pytest.fixture
def harness() -> Iterator[Harness]:
    made = Harness()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    return FakeKube().install(monkeypatch)
