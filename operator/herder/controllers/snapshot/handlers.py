"""ServerSnapshot handlers: one daemon per snapshot, woken by its own changes, its server's and its VM's; the
indexes snapshots, restores and schedules read (servers, snapshots, a schedule's snapshots); deletion under
herder's finalizer."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import runtime_of
from herder.controllers.snapshot.delete import delete_snapshot
from herder.controllers.snapshot.sync import KIND, snapshot_failed, sync_snapshot
from herder.controllers.snapshot.views import (
    held_of,
    server_topic,
    server_view,
    servers_topic,
    snapshot_topic,
    snapshot_view,
)
from herder.reasons import Reason
from herder.reconcile.restore import SnapshotView
from herder.reconcile.schedule import Held
from herder.reconcile.snapshot import ServerView

PLURAL = "serversnapshots"
SERVERS = "elasticcloudservers"


@kopf.index(GROUP, VERSION, SERVERS)
def snapshot_server_index(*, namespace: str | None, name: str, body: kopf.Body,
                          **_: Any) -> dict[tuple[str, str], ServerView]:
    return {(namespace or "", name): server_view(name, body)}


@kopf.index(GROUP, VERSION, PLURAL)
def snapshot_index(*, namespace: str | None, name: str, body: kopf.Body,
                   **_: Any) -> dict[tuple[str, str], SnapshotView]:
    return {(namespace or "", name): snapshot_view(name, body)}


@kopf.index(GROUP, VERSION, PLURAL)
def schedule_held_index(*, namespace: str | None, name: str, body: kopf.Body,
                        **_: Any) -> dict[tuple[str, str], Held]:
    """{(namespace, schedule UID): the snapshot} for ServerSnapshots a schedule made (empty for others: Kopf
    keeps an object's previous entries when its index handler returns None)."""
    held = held_of(name, body)
    return {(namespace or "", held[0]): held[1]} if held is not None else {}


@kopf.on.event(GROUP, VERSION, SERVERS)
def server_changed(*, type: str | None, namespace: str | None, name: str, uid: str, body: kopf.Body,
                   memo: kopf.Memo, **_: Any) -> None:
    """A change of what snapshots see of an ECS wakes its snapshots and restores, and its namespace's schedules;
    its other status writes wake nobody."""
    runtime = runtime_of(memo)
    view = None if type == "DELETED" else repr(server_view(name, body))
    if runtime.changed(f"server-view/{uid}", view):
        runtime.notify(server_topic(namespace or "", name))
        runtime.notify(servers_topic(namespace or ""))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def snapshot_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                          **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_snapshot(runtime, current, lookups),
                    on_error=lambda current, exc: snapshot_failed(runtime, current, exc))
    await daemon.run(body, uid, runtime, stopped)


@kopf.on.event(GROUP, VERSION, PLURAL)
def snapshot_event(*, type: str | None, namespace: str | None, name: str, uid: str, body: kopf.Body,
                   memo: kopf.Memo, **_: Any) -> None:
    """Its own change wakes it; a change of what restores and schedules see of it wakes them."""
    runtime = runtime_of(memo)
    runtime.wake(uid)
    seen = None if type == "DELETED" else repr((snapshot_view(name, body), held_of(name, body)))
    if runtime.changed(f"snapshot-view/{uid}", seen):
        runtime.notify(snapshot_topic(namespace or "", name))
        for owner in (body.get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("kind") == "ServerSnapshotSchedule":
                runtime.wake(owner["uid"])


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def snapshot_deleted(*, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    result = await asyncio.to_thread(delete_snapshot, runtime, dict(body), Lookups.of(kwargs))
    if not result.done:
        raise kopf.TemporaryError(result.message, delay=result.delay)
    logger.info(result.message)
    kopf.event(body, type="Normal", reason=Reason.DELETED, message=result.message)
