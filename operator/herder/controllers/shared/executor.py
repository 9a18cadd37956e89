"""The worker threads daemon passes run on, most urgent first.

A pass that follows a task already in flight goes before passes that may start new ones. With a plain FIFO
pool, a burst of a thousand creates queues a thousand clone passes ahead of the follow-up of the first clone,
and no server turns Ready until every clone has been started; urgent-first reports each server as soon as its
own clone ends, and the number of tasks started at once stays the pool's size.
"""

from __future__ import annotations

import contextvars
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
PASS_THREADS = 32  # backend calls block; clones run in parallel up to this many (vCenter allows ~4 per host)

_Item = tuple[int, int, Callable[[], None]]


class PassExecutor:
    """At most `workers` threads, started as work arrives, taking the most urgent work first (FIFO within
    the same urgency). Work runs in the submitter's contextvars context, as `asyncio.to_thread` does."""

    def __init__(self, workers: int = PASS_THREADS, name: str = "herder-pass") -> None:
        self._workers = workers
        self._name = name
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, urgent: bool, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        context = contextvars.copy_context()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(context.run(fn, *args))
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)

        self._queue.put((0 if urgent else 1, next(self._order), run))
        self._start_worker()
        return future

    def _start_worker(self) -> None:
        with self._lock:
            if len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        while True:  # daemon threads: they end with the process
            _, _, run = self._queue.get()
            run()
