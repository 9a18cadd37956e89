"""What snapshots, restores and schedules see of the objects they depend on, read from Kopf's indexes: an
ElasticCloudServer (`ServerView`), a ServerSnapshot (`SnapshotView`), a schedule's ServerSnapshot (`Held`).
Small values, not bodies: the indexes hold one per object."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from herder.api.annotations import PAUSED_ANNOTATION, annotation_set
from herder.controllers.shared.status import condition_in
from herder.reasons import Health, Reason
from herder.reconcile.restore import SnapshotView
from herder.reconcile.schedule import Held
from herder.reconcile.snapshot import ServerView

SCHEDULE_LABEL = "herder.dev/schedule"
SERVER_LABEL = "herder.dev/server"
SCHEDULED_AT = "herder.dev/scheduled-at"  # annotation: the run (cron time, UTC) that made the snapshot


def server_topic(namespace: str, name: str) -> str:
    """What a change of ElasticCloudServer `namespace/name` notifies."""
    return f"server/{namespace}/{name}"


def servers_topic(namespace: str) -> str:
    """What any change of the ElasticCloudServers of `namespace` notifies (schedules with a selector)."""
    return f"servers/{namespace}"


def snapshot_topic(namespace: str, name: str) -> str:
    return f"snapshot/{namespace}/{name}"


def server_view(name: str, body: Mapping[str, Any]) -> ServerView:
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    return ServerView(
        uid=str(meta.get("uid") or ""), name=name, unique_id=status.get("uniqueID"),
        ref=status.get("managedObjectID"), zone=status.get("zone") or spec.get("availabilityZone"),
        paused=annotation_set(meta.get("annotations"), PAUSED_ANNOTATION),
        deleting=bool(meta.get("deletionTimestamp")), busy=bool(status.get("pendingTask")),
        restoring=status.get("restoring"), labels=tuple(sorted((meta.get("labels") or {}).items())))


def _ready(status: Mapping[str, Any]) -> tuple[str, str]:
    ready = condition_in(status, "Ready") or {}
    return str(ready.get("reason") or ""), str(ready.get("message") or "")


def snapshot_view(name: str, body: Mapping[str, Any]) -> SnapshotView:
    spec, status = body.get("spec") or {}, body.get("status") or {}
    reason, message = _ready(status)
    return SnapshotView(name=name, server=str(spec.get("server") or ""),
                        ready_to_use=bool(status.get("readyToUse")), unique_id=status.get("uniqueID"),
                        server_unique_id=status.get("serverUniqueID"), reason=reason, message=message)


def held_of(name: str, body: Mapping[str, Any]) -> tuple[str, Held] | None:
    """(the schedule's UID, the snapshot) for a ServerSnapshot a schedule made; None for any other."""
    meta = body.get("metadata") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "ServerSnapshotSchedule"]
    scheduled = (meta.get("annotations") or {}).get(SCHEDULED_AT)
    if not owners or not scheduled:
        return None
    status = body.get("status") or {}
    reason, message = _ready(status)
    parsed = Reason.parse(reason)
    # Still being taken or waiting for its server is not failing; a failed task, a refusal or a loss is.
    failing = parsed is not None and (parsed.health is Health.STALLED or parsed is Reason.SNAPSHOT_FAILED)
    return str(owners[0]["uid"]), Held(
        name=name, server=str((body.get("spec") or {}).get("server") or ""),
        scheduled=datetime.fromisoformat(scheduled.replace("Z", "+00:00")),
        ready_to_use=bool(status.get("readyToUse")), failure=f"{reason}: {message}" if failing else None,
        deleting=bool(meta.get("deletionTimestamp")))
