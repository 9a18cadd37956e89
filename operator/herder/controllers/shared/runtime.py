"""In-process state shared by handlers: live provider connections and per-object wake-ups.

Nothing here is persisted: after a restart everything is rebuilt from Kubernetes and the backends.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from herder.controllers.shared.backoff import Backoff
from herder.controllers.shared.executor import PassExecutor
from herder.controllers.shared.ledger import Ledger
from herder.controllers.shared.tasks import SettledTasks
from herder.errors import ProviderNotReady
from herder.providers.base import Provider, ProviderReads
from herder.providers.types import EndpointInfo, ObservedVM
from herder.reasons import Reason

ProviderKey = tuple[str, str]  # (kind, name)
WARM_UP_SECONDS = 30.0


@dataclass
class ProviderHandle:
    """One backend connection and what herder last learned about it."""

    provider: Provider
    settings: Hashable  # what the connection was built from; a change rebuilds it
    credentials_digest: str
    credentials_read_at: float = 0.0  # time.monotonic() of the last read of its Secret
    info: EndpointInfo | None = None  # what the endpoint said of itself at the last login
    ready: bool = False
    reason: Reason = Reason.CONNECTING
    message: str = ""
    watching: bool = False


class Backends(Protocol):
    """What gathering a pass's inputs asks of the backends: reads of a connected one, whether one is connected,
    and the backoff of failed steps. The operator's `Runtime` is one; `herder plan` has its own, holding only
    read-only views (`herder.providers.readonly`)."""

    @property
    def backoff(self) -> Backoff: ...

    def reads(self, kind: str, name: str) -> ProviderReads:
        """The connected provider's reads, or ProviderNotReady saying why not."""
        ...

    def connected(self, kind: str, name: str) -> bool: ...


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started = time.monotonic()
        self.providers: dict[ProviderKey, ProviderHandle] = {}
        self.backoff = Backoff()
        self.passes = PassExecutor()  # where daemon passes run, follow-ups of tasks in flight first
        self.settled_tasks = SettledTasks()  # tasks seen succeeded a moment ago
        self._wakers: dict[str, asyncio.Event] = {}
        self._fingerprints: dict[str, str] = {}
        self._server_of_vm: dict[str, str] = {}  # a VM's unique ID -> the ECS UID that recorded it
        self._vm_of_server: dict[str, str] = {}  # and back
        # Held from checking a VM's owner marks to writing ours: two servers never both adopt one VM.
        self.adoption_lock = threading.Lock()
        self.ledger = Ledger()  # ServerQuota admission, one namespace at a time
        self._followers: dict[str, set[str]] = {}  # topic -> keys of the daemons it wakes
        self._topics: dict[str, set[str]] = {}  # and back
        self._follow_lock = threading.Lock()

    # -- wake-ups -----------------------------------------------------------------------------------------
    def _waker(self, key: str) -> asyncio.Event:
        return self._wakers.setdefault(key, asyncio.Event())

    def starting(self, key: str) -> None:
        """The daemon of `key` starts: a wake-up from now on is kept for its first sleep (a dependency that changes
        while its first pass runs must not be missed). Call from the event loop."""
        self._waker(key)

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
        self.follow(key, ())

    def follow(self, key: str, topics: tuple[str, ...]) -> None:
        """The daemon of `key` is woken by `notify(topic)` for each of `topics` (and no others): e.g. a snapshot
        by its server's changes and its VM's. Safe from any thread."""
        with self._follow_lock:
            for topic in self._topics.pop(key, set()):
                followers = self._followers.get(topic)
                if followers is not None:
                    followers.discard(key)
                    if not followers:
                        del self._followers[topic]
            if topics:
                self._topics[key] = set(topics)
                for topic in topics:
                    self._followers.setdefault(topic, set()).add(key)

    def notify(self, topic: str) -> None:
        """Wake every daemon that follows `topic`. Safe from any thread."""
        with self._follow_lock:
            keys = list(self._followers.get(topic, ()))
        for key in keys:
            self.wake(key)

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
        """The connected provider, or ProviderNotReady saying why not."""
        handle = self.providers.get((kind, name))
        if handle is None or not handle.ready:
            if handle is not None and handle.reason is Reason.UNREACHABLE:
                raise ProviderNotReady(f"{kind} {name} is unreachable: {handle.message}", reason=Reason.UNREACHABLE)
            why = f"{handle.reason}: {handle.message}" if handle else "not connected"
            raise ProviderNotReady(f"{kind} {name} is not ready ({why})")
        return handle

    def reads(self, kind: str, name: str) -> ProviderReads:
        return self.ready_provider(kind, name).provider

    def connected(self, kind: str, name: str) -> bool:
        handle = self.providers.get((kind, name))
        return handle is not None and handle.ready

    def on_inventory_change(self, server: ObservedVM | None, unique_id: str) -> None:
        """Drift: wake the ECS of the VM. Its UID is the VM's identity, or (adopted) its owner mark or the
        identity it recorded. The recorded one matters: a watch update read before herder set the mark can
        arrive after it, so the cached mark is not proof enough. Called from the watch thread."""
        owner = server.owner_uid if server is not None else None
        self.loop.call_soon_threadsafe(self._wake_server_now, unique_id, owner)
        self.notify(vm_topic(unique_id))

    def _wake_server_now(self, unique_id: str, owner: str | None) -> None:
        for key in {unique_id, owner, self._server_of_vm.get(unique_id)}:
            if key:
                self._wake_now(key)


def vm_topic(unique_id: str) -> str:
    """What a VM's change notifies (its snapshots follow it)."""
    return f"vm/{unique_id}"


def runtime_of(memo: Any) -> Runtime:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise kopf.TemporaryError("operator is still starting", delay=1)
    return runtime


def digest(values: dict[str, str]) -> str:
    """A fingerprint of credentials, to notice rotation without keeping a second copy around."""
    return hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
