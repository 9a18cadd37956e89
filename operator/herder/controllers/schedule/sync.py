"""One pass over one ServerSnapshotSchedule: carry out its planner's step (herder.reconcile.schedule) with the
Kubernetes API, and sleep until the next run (or the next snapshot to age out).

The run's ServerSnapshots are created before lastScheduleTime is written: after a crash in between, the same
run is due again and its deterministic names make the creates no-ops (409), so no run makes two snapshots of
a server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from herder import GROUP, VERSION, kube, metrics
from herder.api.schedule import ServerSnapshotSchedule
from herder.controllers.shared.daemon import Pass
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import new_status
from herder.controllers.snapshot.views import SCHEDULE_LABEL, SCHEDULED_AT, SERVER_LABEL, servers_topic
from herder.errors import HerderError
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.schedule import Held, Recorded, plan_schedule
from herder.reconcile.selectors import selector_matches

log = logging.getLogger(__name__)
KIND = "ServerSnapshotSchedule"
SNAPSHOTS = "serversnapshots"
MIN_DELAY_SECONDS = 0.5
Clock = Callable[[], datetime]


def label_value(text: str) -> str:
    """A label value (63 characters at most, alphanumeric at both ends) for a name."""
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text[:63])


def _snapshot(schedule: ServerSnapshotSchedule, name: str, server: str, at: datetime) -> dict[str, Any]:
    meta, template = schedule.metadata, schedule.spec.template
    spec = {"server": server, "memory": template.memory, "quiesce": template.quiesce,
            "deletionPolicy": template.deletion_policy.value}
    if template.description:
        spec["description"] = template.description
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ServerSnapshot",
        "metadata": {"name": name, "namespace": meta.namespace,
                     "labels": {SCHEDULE_LABEL: label_value(meta.name or ""), SERVER_LABEL: label_value(server)},
                     "annotations": {SCHEDULED_AT: at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                     "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": meta.name,
                                          "uid": meta.uid, "controller": True, "blockOwnerDeletion": True}]},
        "spec": spec,
    }


def _servers(schedule: ServerSnapshotSchedule, lookups: Lookups) -> list[str]:
    if schedule.spec.server:
        return [schedule.spec.server]
    return sorted(view.name for view in lookups.servers_in(schedule.metadata.namespace or "")
                  if not view.deleting and selector_matches(schedule.spec.selector, dict(view.labels)))


def _created(body: dict[str, Any], now: datetime) -> datetime:
    stamp = (body.get("metadata") or {}).get("creationTimestamp")
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp else now


def _newest(held: list[Held], servers: list[str], since: datetime) -> dict[str, float]:
    """Per server, when its newest usable snapshot was scheduled (the schedule's creation while none is)."""
    newest = dict.fromkeys(servers, since.timestamp())
    for h in held:
        if h.ready_to_use and not h.deleting:
            newest[h.server] = max(newest.get(h.server, 0.0), h.scheduled.timestamp())
    return newest


def sync_schedule(runtime: Runtime, body: dict[str, Any], lookups: Lookups, now: Clock) -> Pass:
    schedule = ServerSnapshotSchedule.model_validate(body)
    namespace, name, uid = schedule.metadata.namespace or "", schedule.metadata.name or "", schedule.metadata.uid or ""
    runtime.follow(uid, (servers_topic(namespace),))
    moment = now()
    servers = _servers(schedule, lookups)
    held = lookups.held_by(namespace, uid)
    created = _created(body, moment)
    status = schedule.status
    p = plan_schedule(name, schedule.spec, Recorded(status.last_schedule_time, status.last_successful_time),
                      servers=servers, held=held, created=created, now=moment)
    for snap_name, server, at in p.create:
        log.info("ServerSnapshotSchedule %s/%s: run at %s: creating %s", namespace, name, at.isoformat(), snap_name)
        kube.create_custom_object(SNAPSHOTS, namespace, _snapshot(schedule, snap_name, server, at))
    for snap_name in p.delete:
        log.info("ServerSnapshotSchedule %s/%s: retention deletes %s", namespace, name, snap_name)
        kube.delete_custom_object(SNAPSHOTS, namespace, snap_name)
    metrics.record_schedule((namespace, name), None if schedule.spec.suspend else p.interval,
                            _newest(held, servers, created))
    runtime.backoff.succeeded(uid)
    delay = None if p.wake_at is None else max((p.wake_at - now()).total_seconds(), MIN_DELAY_SECONDS)
    return Pass(new_status(body.get("status") or {}, [p.ready], schedule.metadata.generation or 0, p.fields),
                delay)


def schedule_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    schedule = ServerSnapshotSchedule.model_validate(body)
    log.info("ServerSnapshotSchedule %s/%s: %s: %s", schedule.metadata.namespace, schedule.metadata.name,
             exc.reason, exc)
    delay = runtime.backoff.retry(schedule.metadata.uid or "")[0]
    failure = Condition(READY, False, exc.reason, str(exc))
    return Pass(new_status(body.get("status") or {}, [failure], schedule.metadata.generation or 0, {}), delay,
                failed=True)
