"""Drift detection for SCVMM: one bulk read per interval of every VM herder marked, on its own shell.

VMM has no change feed over WinRM that a client can hold open, so a daemon thread runs one script per
interval (all marked VMs, with the small property set of observe.PROJECTION) and diffs it against the
previous read: subscribers hear about every VM that appeared, changed or vanished. Nothing polls single VMs.
"""

from __future__ import annotations

import logging

from herder.errors import ProviderError
from herder.providers.inventory_cache import Change, InventoryCache
from herder.providers.scvmm import observe
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.observe import PROJECTION
from herder.providers.scvmm.scripts import quote
from herder.providers.types import ObservedVM

log = logging.getLogger(__name__)

class SCVMMInventory(InventoryCache):
    """The `Inventory` protocol on one SCVMM."""

    def __init__(self, driver: Driver, *, interval: float = 5.0) -> None:
        super().__init__("scvmm-inventory")
        self._driver = driver
        self._interval = interval

    def stop(self) -> None:
        self._stop.set()
        self._join(self._interval + 30)  # a read in flight finishes first; the wait between reads ends at once
        self._driver.close()

    def refresh(self, ref: str) -> ObservedVM | None:
        """Re-read one VM into the cache right after herder's own task, instead of waiting for the next
        bulk read. Not announced to subscribers: the caller already knows."""
        body = f"$v = Get-SCVirtualMachine -ID {quote(ref)}\n$result = @()\nif ($v) {{ $result = @({PROJECTION}) }}"
        rows = self._driver.run("inventory", f"refresh VM {ref}", body)
        server = observe.to_server(rows[0]) if rows else None
        with self._lock:
            if server is not None and server.owner_uid:
                self._store(server)
            else:
                self._drop(ref)
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
            previous = dict(self._servers)
            changes_to_cache = [uid for uid, server in current.items() if previous.get(uid) != server]
            for uid in [u for u in previous if u not in current]:
                self._drop(uid)
            for uid in changes_to_cache:
                self._store(current[uid])
        changes: list[Change] = [(server, uid) for uid, server in current.items() if previous.get(uid) != server]
        changes += [(None, uid) for uid in previous if uid not in current]
        self._synced.set()
        self._notify(changes)
