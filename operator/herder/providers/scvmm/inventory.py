"""Drift detection for SCVMM: one bulk read per interval of every VM herder marked, on its own shell.

VMM has no change feed over WinRM that a client can hold open, so a daemon thread runs one script per
interval (all marked VMs, with the small property set of observe.PROJECTION) and diffs it against the
previous read: subscribers hear about every VM that appeared, changed or vanished. Nothing polls single VMs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from herder.providers.base import ProviderError
from herder.providers.scvmm import observe
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.observe import PROJECTION
from herder.providers.scvmm.scripts import quote
from herder.providers.types import ObservedServer

log = logging.getLogger(__name__)

Callback = Callable[[ObservedServer | None, str], None]


class SCVMMInventory:
    """The `Inventory` protocol on one SCVMM."""

    def __init__(self, driver: Driver, *, interval: float = 15.0) -> None:
        self._driver = driver
        self._interval = interval
        self._lock = threading.Lock()
        self._servers: dict[str, ObservedServer] = {}
        self._callbacks: list[Callback] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self) -> Mapping[str, ObservedServer]:
        with self._lock:
            return dict(self._servers)

    def subscribe(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scvmm-inventory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # A read in flight finishes first; the wait between reads ends at once.
            self._thread.join(timeout=self._interval + 30)
            self._thread = None
        self._driver.close()

    def wait_synced(self, timeout: float) -> bool:
        """True once the first full read has been applied."""
        return self._synced.wait(timeout)

    def refresh(self, ref: str) -> ObservedServer | None:
        """Re-read one VM into the cache right after herder's own task, instead of waiting for the next
        bulk read. Not announced to subscribers: the caller already knows."""
        body = f"$v = Get-SCVirtualMachine -ID {quote(ref)}\n$result = @()\nif ($v) {{ $result = @({PROJECTION}) }}"
        rows = self._driver.run("inventory", f"refresh VM {ref}", body)
        server = observe.to_server(rows[0]) if rows else None
        with self._lock:
            if server is not None and server.owner_uid:
                self._servers[server.unique_id] = server
            else:
                self._servers.pop(ref, None)
        return server

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read_all()
            except ProviderError as exc:
                log.warning("SCVMM inventory read failed, retrying next interval: %s", exc)
            self._stop.wait(self._interval)

    def _read_all(self) -> None:
        """One bulk read, applied and announced."""
        rows = self._driver.run("inventory", "read the VM inventory", observe.project_all(observe.owned()))
        current = {s.unique_id: s for s in (observe.to_server(row) for row in rows or ())}
        with self._lock:
            previous = self._servers
            self._servers = current
            callbacks = list(self._callbacks)
        changes: list[tuple[ObservedServer | None, str]] = [
            (server, uid) for uid, server in current.items() if previous.get(uid) != server
        ]
        changes += [(None, uid) for uid in previous if uid not in current]
        self._synced.set()
        for server, uid in changes:
            for callback in callbacks:
                try:
                    callback(server, uid)
                except Exception:
                    log.exception("inventory subscriber failed for VM %s", uid)
