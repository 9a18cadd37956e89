"""ServerQuota handlers: an index of the quotas by namespace (what admission reads), and one daemon per quota
that keeps status.used and the herder_quota_* metrics current. A change of a quota's limits wakes the servers
and images waiting for room in its namespace."""

from __future__ import annotations

from typing import Any

import kopf

from herder import GROUP, VERSION, metrics
from herder.controllers.quota.sync import quota_failed, sync_quota
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import runtime_of
from herder.reconcile.quota import Usage

PLURAL = "serverquotas"
KIND = "ServerQuota"


@kopf.index(GROUP, VERSION, PLURAL)
def quota_index(*, namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {namespace or "": dict(body)}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def quota_daemon(*, body: kopf.Body, namespace: str | None, name: str, uid: str,
                       stopped: kopf.DaemonStopped, memo: kopf.Memo, **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    seen: dict[str, Usage] = {}
    daemon = Daemon(KIND, PLURAL, step=lambda current, _: sync_quota(runtime, current, lookups, seen),
                    on_error=lambda current, exc: quota_failed(runtime, current, exc))
    try:
        await daemon.run(body, uid, runtime, stopped)
    finally:
        metrics.forget_quota((namespace or "", name))


@kopf.on.event(GROUP, VERSION, PLURAL)
def quota_event(*, namespace: str | None, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """Limits changed (or the quota went): whatever waits for room in the namespace looks again."""
    runtime = runtime_of(memo)
    runtime.wake(uid)
    for waiting in runtime.ledger.waiting(namespace or ""):
        runtime.wake(waiting)
