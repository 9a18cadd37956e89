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
        self._owned: dict[str, set[str]] = {}  # owner mark -> unique IDs of the VMs that carry it
        self._callbacks: list[Callback] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self) -> Mapping[str, ObservedVM]:
        with self._lock:
            return dict(self._servers)

    def lookup(self, uid: str, recorded: str | None = None) -> ObservedVM | None:
        """The cached VM of ECS `uid`: by the unique ID it recorded, by identity, else by its owner mark when
        exactly one VM carries it. Constant time, whatever the number of VMs."""
        with self._lock:
            for key in (recorded, uid):
                if key and key in self._servers:
                    return self._servers[key]
            owned = self._owned.get(uid) or set()
            return self._servers[next(iter(owned))] if len(owned) == 1 else None

    def owned_by(self, uid: str, wait_seconds: float = 0.0) -> list[ObservedVM] | None:
        """VMs marked with ECS `uid`; None until the first full reading arrived (while the feed runs, waiting up
        to `wait_seconds` for it)."""
        if not self._synced.is_set() and (self._thread is None or not self._synced.wait(wait_seconds)):
            return None
        with self._lock:
            return [self._servers[u] for u in self._owned.get(uid) or ()]

    def _store(self, server: ObservedVM) -> None:
        """Put one VM in the cache. Holds the lock."""
        self._drop(server.unique_id)
        self._servers[server.unique_id] = server
        if server.owner_uid:
            self._owned.setdefault(server.owner_uid, set()).add(server.unique_id)

    def _drop(self, unique_id: str) -> None:
        """Take one VM out of the cache. Holds the lock."""
        old = self._servers.pop(unique_id, None)
        if old is not None and old.owner_uid:
            owners = self._owned.get(old.owner_uid)
            if owners is not None:
                owners.discard(unique_id)
                if not owners:
                    del self._owned[old.owner_uid]

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
