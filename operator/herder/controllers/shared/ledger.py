"""Quota accounting, one namespace at a time.

Every create, resize, adoption and image a namespace asks for is admitted here before the backend is touched,
under that namespace's lock, so a burst of concurrent applies is decided one after the other and can never
exceed a ServerQuota (herder runs one active replica). What each object takes is the larger of what its stored
status says (the Kopf indexes, which survive a restart) and what this process granted it (which covers the
moment between the grant and the status write that records it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from herder.reconcile.quota import Quota, Usage, admit, refusal, room, total


@dataclass
class _Namespace:
    lock: threading.Lock = field(default_factory=threading.Lock)
    grants: dict[str, Usage] = field(default_factory=dict)  # object UID -> what was admitted
    refused: set[str] = field(default_factory=set)  # object UIDs waiting for room: woken when some frees up


class Ledger:
    """What each namespace's servers and images were admitted to take. Thread-safe."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._namespaces: dict[str, _Namespace] = {}

    def _of(self, namespace: str) -> _Namespace:
        with self._guard:
            return self._namespaces.setdefault(namespace, _Namespace())

    @staticmethod
    def _takes(entry: _Namespace, indexed: Mapping[str, Usage]) -> dict[str, Usage]:
        takes = dict(indexed)
        for uid, granted in entry.grants.items():
            takes[uid] = takes[uid].most(granted) if uid in takes else granted
        return takes

    def used(self, namespace: str, indexed: Mapping[str, Usage]) -> Usage:
        """What the namespace takes now. `indexed`: {object UID: what its stored status says it takes}."""
        entry = self._of(namespace)
        with entry.lock:
            return total(self._takes(entry, indexed).values())

    def admit(self, namespace: str, uid: str, wanted: Usage, quotas: Sequence[Quota],
              indexed: Mapping[str, Usage]) -> str | None:
        """Grant object `uid` `wanted` if every quota of the namespace allows it; else why not (and remember it
        is waiting, see `release`)."""
        entry = self._of(namespace)
        with entry.lock:
            why = refusal(quotas, self._takes(entry, indexed), uid, wanted)
            if why is None:
                entry.grants[uid] = wanted
                entry.refused.discard(uid)
            else:
                entry.refused.add(uid)
            return why

    def room(self, namespace: str, each: Usage, members: Iterable[str], quotas: Sequence[Quota],
             indexed: Mapping[str, Usage]) -> tuple[int | None, str | None]:
        """(how many more objects of size `each` fit, None when nothing limits them; why the one after those
        does not). `members`: objects already made that take nothing yet (they will ask for `each` soon)."""
        entry = self._of(namespace)
        with entry.lock:
            takes = self._takes(entry, indexed)
            pending = sum(1 for uid in members if takes.get(uid, Usage()) == Usage())
            used = total(takes.values()) + each.times(pending)
            fits = room(quotas, used, each)
            return fits, admit(quotas, used + each.times(fits), Usage(), each) if fits is not None else None

    def release(self, namespace: str, uid: str) -> set[str]:
        """Object `uid` is gone: forget its grant. Returns the objects waiting for room, to wake."""
        entry = self._of(namespace)
        with entry.lock:
            entry.grants.pop(uid, None)
            entry.refused.discard(uid)
            return set(entry.refused)

    def wait(self, namespace: str, uid: str, waiting: bool) -> None:
        """Object `uid` (an ECS set that stopped at the limit) does, or no longer does, wait for room."""
        entry = self._of(namespace)
        with entry.lock:
            if waiting:
                entry.refused.add(uid)
            else:
                entry.refused.discard(uid)

    def waiting(self, namespace: str) -> set[str]:
        """The objects of the namespace waiting for room (a quota changed: they may fit now)."""
        entry = self._of(namespace)
        with entry.lock:
            return set(entry.refused)
