"""One pass over a ServerQuota: what its namespace takes now (the ledger's view: stored status plus fresh grants),
into status.used and the herder_quota_* metrics. Admission itself happens where servers and images decide
(herder.controllers.shared.ledger); this only reports it."""

from __future__ import annotations

from typing import Any

from herder import metrics
from herder.api import ServerQuota
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import new_status
from herder.errors import HerderError
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.quota import Quota, Usage, describe, metric_values

# Use is re-read when an object of the namespace changes; this bounds how stale status.used can get otherwise.
REFRESH_SECONDS = 30.0


def sync_quota(runtime: Runtime, body: dict[str, Any], lookups: Lookups, last: dict[str, Usage]) -> Pass:
    """`last`: {quota UID: the use its previous pass saw}; when use went down, what waits for room is woken."""
    found = ServerQuota.model_validate(body)
    namespace, name, uid = found.metadata.namespace or "", found.metadata.name or "", found.metadata.uid or ""
    used = runtime.ledger.used(namespace, lookups.namespace_usage(namespace))
    before = last.get(uid)
    last[uid] = used
    if before is not None and used.most(before) != used:  # something was freed
        for waiting in runtime.ledger.waiting(namespace):
            runtime.wake(waiting)
    quota = Quota.of(name, found.spec.hard)
    hard, in_use = metric_values(quota, used)
    metrics.record_quota((namespace, name), hard, in_use)
    ready = Condition(READY, True, Reason.READY, describe(quota, used))
    return Pass(new_status(body.get("status") or {}, [ready], found.metadata.generation or 0,
                           {"used": used.status()}), REFRESH_SECONDS)


def quota_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    uid = (body.get("metadata") or {}).get("uid", "")
    failure = Condition(READY, False, exc.reason, str(exc))
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    return Pass(new_status(body.get("status") or {}, [failure], generation, {}), runtime.backoff.retry(uid)[0],
                failed=True)
