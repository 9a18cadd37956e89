"""ServerSnapshotRestore handlers: one daemon per restore until it ends; the index of servers a restore holds
still (the ECS controller reads it); deletion waits for a task in flight."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION
from herder.api import RestorePhase
from herder.controllers.restore.delete import delete_restore
from herder.controllers.restore.sync import KIND, restore_failed, sync_restore
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime, runtime_of
from herder.reasons import Reason

PLURAL = "serversnapshotrestores"


def _holds(body: kopf.Body) -> str | None:
    """The server a restore holds still, if it does."""
    status = body.get("status") or {}
    phase = RestorePhase(status["phase"]) if status.get("phase") in set(RestorePhase) else None
    return str(status["server"]) if phase is not None and phase.holds_server and status.get("server") else None


@kopf.index(GROUP, VERSION, PLURAL)
def restore_hold_index(*, namespace: str | None, name: str, uid: str, body: kopf.Body,
                       **_: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """{(namespace, server): (restore UID, name)} while a restore holds that server still. Empty, never None,
    when it holds none: Kopf keeps an object's previous entries when its index handler returns None."""
    server = _holds(body)
    return {(namespace or "", server): (uid, name)} if server else {}


def _wake_server(runtime: Runtime, lookups: Lookups, namespace: str, server: str | None) -> None:
    view = lookups.server(namespace, server) if server else None
    if view is not None:
        runtime.wake(view.uid)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def restore_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                         **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_restore(runtime, current, lookups),
                    on_error=lambda current, exc: restore_failed(runtime, current, exc))
    await daemon.run(body, uid, runtime, stopped)


@kopf.on.event(GROUP, VERSION, PLURAL)
def restore_event(*, type: str | None, namespace: str | None, uid: str, body: kopf.Body, memo: kopf.Memo,
                  **kwargs: Any) -> None:
    """Its own change wakes it; taking or releasing its hold wakes the server it holds."""
    runtime = runtime_of(memo)
    runtime.wake(uid)
    held = None if type == "DELETED" else _holds(body)
    if runtime.changed(f"restore-hold/{uid}", None if type == "DELETED" else repr(held)):
        server = held or (body.get("status") or {}).get("server")
        _wake_server(runtime, Lookups.of(kwargs), namespace or "", server)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def restore_deleted(*, body: kopf.Body, namespace: str | None, uid: str, memo: kopf.Memo,
                          logger: kopf.Logger, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    result = await asyncio.to_thread(delete_restore, runtime, dict(body), lookups)
    if not result.done:
        raise kopf.TemporaryError(result.message, delay=result.delay)
    runtime.forget(uid)
    _wake_server(runtime, lookups, namespace or "", (body.get("status") or {}).get("server"))
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=Reason.DELETED, message=result.message)
