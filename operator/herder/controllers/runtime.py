"""In-process state shared by handlers: live provider connections and per-object wake-ups.

Nothing here is persisted: after a restart everything is rebuilt from Kubernetes and the backends.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import kopf

from herder.providers.base import Provider
from herder.providers.types import ObservedServer
from herder.reconcile.desired import Unresolvable

ProviderKey = tuple[str, str]  # (kind, name)
WARM_UP_SECONDS = 30.0


@dataclass
class ProviderHandle:
    """One backend connection and what herder last learned about it."""

    provider: Provider
    settings: Hashable  # what the connection was built from; a change rebuilds it
    credentials_digest: str
    datacenter: str = ""
    ready: bool = False
    reason: str = "Connecting"
    message: str = ""
    watching: bool = False


@dataclass
class Backoff:
    """Bounded exponential backoff per object: 2, 4, 8 ... `cap` seconds, and when the next try is due."""

    cap: float = 120.0
    failures: dict[str, int] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)  # time.monotonic() of the next try

    def failed(self, key: str) -> float:
        count = self.failures.get(key, 0) + 1
        self.failures[key] = count
        delay = float(min(self.cap, 2**count))
        self.retry_at[key] = time.monotonic() + delay
        return delay

    def remaining(self, key: str) -> float:
        """Seconds until the next try is due (0: due now, or no failure recorded)."""
        return max(self.retry_at.get(key, 0.0) - time.monotonic(), 0.0)

    def due(self, key: str) -> bool:
        # A timer may fire a hair early: within 50 ms counts as due.
        return self.remaining(key) <= 0.05

    def holding(self, key: str) -> bool:
        """A failure is recorded and its retry is not due yet."""
        return key in self.failures and not self.due(key)

    def retry(self, key: str) -> tuple[float, bool]:
        """After a failed pass: (seconds until the next try, whether the backoff grew). A pass that was woken
        before its retry was due (something else changed) keeps the time left instead of growing the delay."""
        if self.holding(key):
            return self.remaining(key), False
        return self.failed(key), True

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)
        self.retry_at.pop(key, None)


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started = time.monotonic()
        self.providers: dict[ProviderKey, ProviderHandle] = {}
        self.backoff = Backoff()
        self._wakers: dict[str, asyncio.Event] = {}
        self._fingerprints: dict[str, str] = {}
        self._server_of_vm: dict[str, str] = {}  # a VM's unique ID -> the ECS UID that recorded it
        self._vm_of_server: dict[str, str] = {}  # and back

    # -- wake-ups -----------------------------------------------------------------------------------------
    def _waker(self, key: str) -> asyncio.Event:
        return self._wakers.setdefault(key, asyncio.Event())

    def wake(self, key: str) -> None:
        """Wake the daemon of object `key` (a UID); safe to call from any thread."""
        self.loop.call_soon_threadsafe(self._wake_now, key)

    def _wake_now(self, key: str) -> None:
        waker = self._wakers.get(key)
        if waker is not None:
            waker.set()

    def wake_all(self) -> None:
        """A shared dependency changed (a provider connected, a zone or image appeared)."""
        self.loop.call_soon_threadsafe(self._wake_all_now)

    def _wake_all_now(self) -> None:
        for waker in self._wakers.values():
            waker.set()

    def changed(self, key: str, fingerprint: str | None) -> bool:
        """Whether `fingerprint` differs from the last one recorded for `key` (and record it). None: the
        object is gone; forget it (a change)."""
        if fingerprint is None:
            self._fingerprints.pop(key, None)
            return True
        before = self._fingerprints.get(key)
        self._fingerprints[key] = fingerprint
        return before != fingerprint

    def forget(self, key: str) -> None:
        self._wakers.pop(key, None)
        self.backoff.succeeded(key)
        self.record_identity(key, None)

    def record_identity(self, uid: str, unique_id: str | None) -> None:
        """The VM that ECS `uid` recorded in status.uniqueID: its drift wakes that ECS. Single dict operations,
        so safe from the deletion worker threads too (the GIL keeps each one whole)."""
        before = self._vm_of_server.pop(uid, None)
        if before is not None and self._server_of_vm.get(before) == uid:
            del self._server_of_vm[before]
        if unique_id and unique_id != uid:
            self._vm_of_server[uid] = unique_id
            self._server_of_vm[unique_id] = uid

    async def sleep(self, key: str, seconds: float | None, stopped: kopf.DaemonStopped) -> None:
        """Until woken, stopped, or `seconds` pass (None: no timeout)."""
        waker = self._waker(key)
        woken = asyncio.ensure_future(waker.wait())
        stopping = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait({woken, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            stopping.cancel()
            waker.clear()

    def warming_up(self) -> bool:
        """Right after start-up, providers are still connecting: not a failure worth reporting."""
        return time.monotonic() - self.started < WARM_UP_SECONDS

    # -- providers ---------------------------------------------------------------------------------------
    def ready_provider(self, kind: str, name: str) -> ProviderHandle:
        """The connected provider, or Unresolvable(ProviderNotReady) saying why not."""
        handle = self.providers.get((kind, name))
        if handle is None or not handle.ready:
            why = f"{handle.reason}: {handle.message}" if handle else "not connected"
            raise Unresolvable("ProviderNotReady", f"{kind} {name} is not ready ({why})")
        return handle

    def on_inventory_change(self, server: ObservedServer | None, unique_id: str) -> None:
        """Drift: wake the ECS of the VM. Its UID is the VM's identity, or (adopted) its owner mark or the
        identity it recorded. The recorded one matters: a watch update read before herder set the mark can
        arrive after it, so the cached mark is not proof enough. Called from the watch thread."""
        owner = server.owner_uid if server is not None else None
        self.loop.call_soon_threadsafe(self._wake_server_now, unique_id, owner)

    def _wake_server_now(self, unique_id: str, owner: str | None) -> None:
        for key in {unique_id, owner, self._server_of_vm.get(unique_id)}:
            if key:
                self._wake_now(key)


def runtime_of(memo: Any) -> Runtime:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise kopf.TemporaryError("operator is still starting", delay=1)
    return runtime


def digest(values: dict[str, str]) -> str:
    """A fingerprint of credentials, to notice rotation without keeping a second copy around."""
    return hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
