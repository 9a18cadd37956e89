"""ServerSnapshotSchedule handlers: one daemon per schedule sleeps until its next run; its deletion deletes the
ServerSnapshots it made (each then follows its own deletionPolicy on the backend)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, clock, kube, metrics
from herder.controllers.schedule.sync import KIND, SNAPSHOTS, schedule_failed, sync_schedule
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import runtime_of
from herder.errors import HerderError

PLURAL = "serversnapshotschedules"


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def schedule_daemon(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                          **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_schedule(runtime, current, lookups, clock.now),
                    on_error=lambda current, exc: schedule_failed(runtime, current, exc))
    await daemon.run(body, uid, runtime, stopped)


@kopf.on.event(GROUP, VERSION, PLURAL)
def schedule_event(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def schedule_deleted(*, namespace: str | None, name: str, uid: str, memo: kopf.Memo, logger: kopf.Logger,
                           **kwargs: Any) -> None:
    """Delete its snapshots explicitly: the ownerReferences are also there for the garbage collector, but not
    every cluster runs one (the test world has no controller-manager)."""
    held = Lookups.of(kwargs).held_by(namespace or "", uid)
    try:
        for snapshot in held:
            if not snapshot.deleting:
                await asyncio.to_thread(kube.delete_custom_object, SNAPSHOTS, namespace or "", snapshot.name)
    except HerderError as exc:
        raise kopf.TemporaryError(f"{exc.reason}: {exc}", delay=1) from None
    runtime_of(memo).forget(uid)
    metrics.forget_schedule((namespace or "", name))
    logger.info(f"deleted with its {len(held)} ServerSnapshot(s)")
