"""The inventory watch: one dedicated PropertyCollector per vCenter, fed by WaitForUpdatesEx.

A ContainerView over the datacenter's VM folder and a small fixed property list (WATCHED_PROPERTIES) make a
single filter; one thread keeps exactly one WaitForUpdatesEx outstanding and applies enter/modify/leave
updates to a map keyed by instance UUID. Nothing polls individual VMs. When the session is lost the
collector dies with it: the thread logs in again, builds a new filter and resyncs from scratch.
"""

from __future__ import annotations

import logging
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import ProviderError
from herder.providers.inventory_cache import Change, InventoryCache
from herder.providers.types import ObservedVM
from herder.providers.vcenter import query
from herder.providers.vcenter.errors import translate
from herder.providers.vcenter.fields import OwnerField
from herder.providers.vcenter.observe import (
    DEVICE_PROPERTIES,
    PROPERTIES,
    WATCHED_PROPERTIES,
    compact,
    compact_value,
    to_server,
)
from herder.providers.vcenter.query import view_filter
from herder.providers.vcenter.session import Session

log = logging.getLogger(__name__)

_WaitOptions: Any = vmodl.query.PropertyCollector.WaitOptions
_VM: Any = vim.VirtualMachine
_RETRY_SECONDS = 5.0


class VCenterInventory(InventoryCache):
    """The `Inventory` protocol on one vCenter datacenter."""

    def __init__(self, session: Session, owner_field: OwnerField, *, max_wait_seconds: int = 60) -> None:
        super().__init__(f"vcenter-inventory-{session.host}")
        self._session = session
        self._owner = owner_field
        self._max_wait = max_wait_seconds
        self._props: dict[str, dict[str, Any]] = {}  # moref -> its properties, as observe.compact keeps them
        self._uuid_of: dict[str, str] = {}  # moref -> instance UUID, for leave updates
        self._collector: Any = None
        self._view: Any = None

    def stop(self) -> None:
        self._stop.set()
        collector = self._collector
        if collector is not None:
            try:  # wakes the outstanding WaitForUpdatesEx at once instead of after max_wait_seconds
                self._session.call("stop the inventory watch", collector.CancelWaitForUpdates)
            except ProviderError as exc:
                log.debug("cancel of the inventory wait failed: %s", exc)
        self._join(self._max_wait + 10)

    def refresh(self, ref: str) -> ObservedVM | None:
        """Re-read one VM into the cache right after herder's own task, instead of waiting for the feed."""

        def run() -> ObservedVM | None:
            content = self._session.content
            try:
                props: dict[str, Any] | None = query.properties(content, _VM(ref, self._session.stub), PROPERTIES)
            except vmodl.fault.ManagedObjectNotFound:
                props = None
            owner_key = self._owner.key(content)
            with self._lock:
                if props is None:
                    self._props.pop(ref, None)
                    server = None
                else:
                    self._props[ref] = compact(props, self._session.name_of)
                    server = to_server(ref, self._props[ref], owner_key)
                self._put(ref, server)
            return server

        return self._session.call(f"refresh VM {ref}", run)

    # -- the watch --------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session.call("set up the inventory watch", self._open)
                self._watch()
            except Exception as exc:  # the watch must outlive any single failure
                if self._stop.is_set():
                    break
                log.warning("vCenter %s inventory watch failed, retrying: %s", self._session.host, exc)
                self._stop.wait(_RETRY_SECONDS)
            finally:
                self._close()

    def _open(self) -> None:
        content = self._session.content
        self._collector = content.propertyCollector.CreatePropertyCollector()
        self._view = content.viewManager.CreateContainerView(
            container=self._session.datacenter().vmFolder, type=[vim.VirtualMachine], recursive=True
        )
        self._collector.CreateFilter(view_filter(self._view, vim.VirtualMachine, WATCHED_PROPERTIES),
                                     partialUpdates=False)

    def _close(self) -> None:
        # Best effort: after a session loss both are already gone with the session.
        for obj, method in ((self._collector, "DestroyPropertyCollector"), (self._view, "DestroyView")):
            if obj is not None:
                try:
                    getattr(obj, method)()
                except Exception as exc:
                    log.debug("inventory cleanup (%s) failed: %s", method, exc)
        self._collector = self._view = None

    def _watch(self) -> None:
        """Long-poll until stopped. Raises ProviderError when the session or collector is lost."""
        options = _WaitOptions(maxWaitSeconds=self._max_wait, maxObjectUpdates=100)
        version = ""
        seen: set[str] | None = set()  # morefs listed by the initial sync; None once it is complete
        generation = self._session.generation
        while not self._stop.is_set():
            try:
                update = self._collector.WaitForUpdatesEx(version, options)
            except vmodl.fault.RequestCanceled:
                return
            except (vim.fault.NotAuthenticated, vmodl.fault.ManagedObjectNotFound) as exc:
                # The collector died with its session: log in again, then _run builds a new one.
                self._session.relogin(generation)
                raise ProviderError(f"inventory watch lost its session: {type(exc).__name__}") from exc
            except Exception as exc:
                raise translate(exc, "watch the VM inventory") from exc
            if update is None:
                continue
            version = update.version
            self._apply(update, seen)
            if seen is not None and not update.truncated:
                self._resync(seen)
                seen = None

    def _apply(self, update: Any, seen: set[str] | None) -> None:
        content = self._session.content
        owner_key = self._session.call("read herder's custom field", lambda: self._owner.key(content))
        objects = [obj for filter_set in update.filterSet or () for obj in filter_set.objectSet or ()]
        if seen is not None:
            seen.update(str(obj.obj._moId) for obj in objects)
        # VMs that appeared or were reconfigured: their devices, read in one call for all of them.
        reconfigured = [obj.obj for obj in objects if obj.kind == "enter"
                        or any(c.name == "config.changeVersion" for c in obj.changeSet or ())]
        devices = {str(vm._moId): props for vm, props in self._session.call(
            "read reconfigured VMs' devices", lambda: query.many(content, reconfigured, DEVICE_PROPERTIES))}
        changed: list[Change] = []
        for obj in objects:
            ref = str(obj.obj._moId)
            changed += self._apply_object(ref, obj, owner_key, devices.get(ref))
        self._notify(changed)

    def _apply_object(self, ref: str, obj: Any, owner_key: int, devices: dict[str, Any] | None) -> list[Change]:
        with self._lock:
            if obj.kind == "leave":
                self._props.pop(ref, None)
                server = None
            else:
                props = self._props.setdefault(ref, {})
                for change in obj.changeSet or ():
                    if change.op in ("remove", "indirectRemove"):
                        props.pop(change.name, None)
                    else:
                        props[change.name] = compact_value(change.name, change.val, self._session.name_of)
                if devices is not None:
                    props.update(compact(devices, self._session.name_of))
                server = to_server(ref, props, owner_key)
            return self._put(ref, server)

    def _put(self, ref: str, server: ObservedVM | None) -> list[Change]:
        """Store `server` for `ref` (None: gone or a template); the changes to report. Holds the lock."""
        changes: list[Change] = []
        old_uuid = self._uuid_of.pop(ref, None)
        if old_uuid is not None and (server is None or server.unique_id != old_uuid):
            self._drop(old_uuid)
            changes.append((None, old_uuid))
        if server is not None:
            self._uuid_of[ref] = server.unique_id
            if self._servers.get(server.unique_id) != server:
                self._store(server)
                changes.append((server, server.unique_id))
        return changes

    def _resync(self, seen: set[str]) -> None:
        """After a (re)started watch: drop VMs that vanished while no filter was listening."""
        with self._lock:
            stale = [ref for ref in self._uuid_of if ref not in seen]
            changed = [change for ref in stale for change in self._put(ref, None)]
            for ref in stale:
                self._props.pop(ref, None)
        self._notify(changed)
        self._synced.set()
