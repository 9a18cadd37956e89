"""The inventory cache's owner-mark lookups before the first full reading: None at once when no feed runs, and
a wait for that reading (bounded) while one does."""

from __future__ import annotations

import threading

from herder.providers.inventory_cache import InventoryCache
from herder.providers.types import ObservedVM, PowerState

MARKED = ObservedVM(unique_id="vm-uuid-1", ref="vm-1", name="legacy", power=PowerState.ON, cpu=1, memory_mib=512,
                    owner_uid="ecs-1")


class SlowFeed(InventoryCache):
    """A feed whose first full reading arrives when the test lets it."""

    def __init__(self) -> None:
        super().__init__("slow-feed")
        self.let_through = threading.Event()

    def _run(self) -> None:
        self.let_through.wait(5)
        with self._lock:
            self._store(MARKED)
        self._synced.set()


def test_without_a_running_feed_nothing_is_known_and_nothing_waits() -> None:
    assert SlowFeed().owned_by("ecs-1", wait_seconds=5) is None


def test_a_lookup_waits_for_the_first_full_reading_of_a_running_feed() -> None:
    feed = SlowFeed()
    feed.start()
    assert feed.owned_by("ecs-1", wait_seconds=0.05) is None  # not read yet, and not waited for long enough
    threading.Timer(0.05, feed.let_through.set).start()
    assert feed.owned_by("ecs-1", wait_seconds=5) == [MARKED]
    assert feed.owned_by("ecs-2") == []
