"""metav1.Condition bookkeeping: keep lastTransitionTime stable unless the status really flips."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from herder.reasons import Health, Reason

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@dataclass(frozen=True)
class Condition:
    """One aspect of an object's state, as a planner decides it (lastTransitionTime is added on write)."""

    type: str
    status: bool
    reason: Reason
    message: str = ""


def merge(
    previous: Sequence[Mapping[str, Any]], updates: Iterable[Condition], generation: int, now: str
) -> list[dict[str, Any]]:
    """Apply `updates` over `previous` conditions, in a stable order (previous first, then new ones)."""
    merged: dict[str, dict[str, Any]] = {str(c["type"]): dict(c) for c in previous}
    for cond in updates:
        status = "True" if cond.status else "False"
        old = merged.get(cond.type)
        since = now if old is None or old.get("status") != status else old.get("lastTransitionTime", now)
        merged[cond.type] = {
            "type": cond.type,
            "status": status,
            "reason": cond.reason,
            "message": cond.message[:1024],  # status must stay bounded
            "observedGeneration": generation,
            "lastTransitionTime": since,
        }
    return list(merged.values())


def summary(conditions: Sequence[Condition], ready_reason: Reason = Reason.READY, ready_message: str = "") -> Condition:
    """Ready is True only when every other condition that matters is True; else it carries the first failure."""
    for cond in conditions:
        if not cond.status:
            return Condition(READY, False, cond.reason, cond.message)
    return Condition(READY, True, ready_reason, ready_message)


def progress(ready: Condition) -> tuple[Condition, Condition]:
    """kstatus' Reconciling and Stalled beside Ready, from the health of Ready's reason: Reconciling while
    herder works toward the spec or waits for something that heals on its own, Stalled when only a person can
    move it on, neither once Ready."""
    health = ready.reason.health
    reconciling = not ready.status and health is not Health.STALLED
    stalled = not ready.status and health is Health.STALLED
    message = ready.message if not ready.status else ""
    return (Condition(RECONCILING, reconciling, ready.reason, message if reconciling else ""),
            Condition(STALLED, stalled, ready.reason, message if stalled else ""))
