"""Write only what changed: at steady state herder makes no Kubernetes writes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf

from herder import kube
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition, merge, progress


@dataclass(frozen=True)
class Transition:
    """A condition that flipped, worth an Event."""

    type: str
    status: bool
    reason: str
    message: str


def condition_in(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    """Condition `type_` of a status as Kubernetes holds it (a dict); None when it has none."""
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_status(current: Mapping[str, Any], conditions: Sequence[Condition], generation: int,
               fields: Mapping[str, Any]) -> dict[str, Any]:
    """The status herder wants: `fields` (None removes a key), merged conditions with kstatus' Reconciling and
    Stalled derived from Ready, observedGeneration."""
    status = dict(fields)
    ready = next((c for c in conditions if c.type == READY), None)
    derived = progress(ready) if ready is not None else ()
    status["conditions"] = merge(current.get("conditions") or [], [*conditions, *derived], generation, now())
    status["observedGeneration"] = generation
    return status


def changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch from `current` to `wanted`; conditions compare without their timestamps."""
    patch: dict[str, Any] = {}
    for key, value in wanted.items():
        old = current.get(key)
        if key == "conditions":
            if _strip_times(old or []) != _strip_times(value):
                patch[key] = value
        elif old != value and not (old is None and value is None):
            patch[key] = value
    return patch


def _strip_times(conditions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions]


def transitions(current: Mapping[str, Any], wanted: Mapping[str, Any], types: Sequence[str]) -> list[Transition]:
    """Conditions that flipped in a way worth an Event: failures, and readiness regained after one. Routine work
    and its end (a create or a power change becoming Ready) are not news: status says so already."""
    before = {c["type"]: c for c in current.get("conditions") or []}
    flipped = []
    for cond in wanted.get("conditions") or []:
        if cond["type"] not in types:
            continue
        old = before.get(cond["type"])
        if old is not None and old.get("status") == cond["status"] and old.get("reason") == cond["reason"]:
            continue
        reason, was = Reason.parse(cond["reason"]), Reason.parse((old or {}).get("reason"))
        if (reason is not None and reason.routine) or (cond["status"] == "True" and (was is None or was.routine)):
            continue
        flipped.append(Transition(cond["type"], cond["status"] == "True", cond["reason"], cond["message"]))
    return flipped


async def publish(body: kopf.Body, plural: str, current: Mapping[str, Any], wanted: Mapping[str, Any], *,
                  events_for: Sequence[str] = ("Ready",)) -> dict[str, Any]:
    """Patch status from `current` (what this writer last wrote or read) to `wanted` if anything changed,
    and post an Event for each transition of the `events_for` conditions (Ready carries the first failing
    aspect, so its transitions cover failures too). Returns the status as it now is."""
    patch = changes(current, wanted)
    if not patch:
        return dict(current)
    meta = body.get("metadata", {})
    await asyncio.to_thread(kube.patch_status, plural, meta.get("namespace"), meta["name"], patch)
    for flip in transitions(current, wanted, events_for):
        kind = "Normal" if flip.status else "Warning"
        kopf.event(body, type=kind, reason=flip.reason, message=flip.message or flip.reason)
    merged = {**current, **patch}
    return {key: value for key, value in merged.items() if value is not None}
