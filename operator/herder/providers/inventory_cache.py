"""What both backends' inventories share: the cache of VMs by unique ID, its subscribers, and the thread that
keeps it current (a vCenter change feed, an SCVMM bulk read per interval)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from herder.providers.types import ObservedVM

log = logging.getLogger(__name__)

Callback = Callable[[ObservedVM | None, str], None]
Change = tuple[ObservedVM | None, str]


class InventoryCache:
    """The `Inventory` protocol's snapshot, subscribe, start and wait_synced; a backend adds `_run` (the
    thread's body, until `_stop` is set), `refresh` and `stop`."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._lock = threading.Lock()
        self._servers: dict[str, ObservedVM] = {}
        self._callbacks: list[Callback] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self) -> Mapping[str, ObservedVM]:
        with self._lock:
            return dict(self._servers)

    def subscribe(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def wait_synced(self, timeout: float) -> bool:
        """True once the first full reading has been applied."""
        return self._synced.wait(timeout)

    def _run(self) -> None:
        raise NotImplementedError

    def _join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _notify(self, changes: list[Change]) -> None:
        """Tell every subscriber about each VM that appeared, changed (the VM) or vanished (None)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for server, unique_id in changes:
            for callback in callbacks:
                try:
                    callback(server, unique_id)
                except Exception:
                    log.exception("inventory subscriber failed for VM %s", unique_id)
