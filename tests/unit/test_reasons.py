"""The reason table: every reason has one health, docs/gitops.md lists each under it, and kstatus' conditions
follow from Ready's reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from herder.reasons import Health, Reason
from herder.reconcile.conditions import READY, Condition, progress

GITOPS = Path(__file__).resolve().parents[2] / "docs" / "gitops.md"
_ROWS = {"OK": Health.OK, "Progress (Reconciling)": Health.PROGRESS, "Waiting (Reconciling)": Health.WAITING,
         "Stalled": Health.STALLED}


def test_the_docs_table_is_the_code_table() -> None:
    documented: dict[str, Health] = {}
    for label, health in _ROWS.items():
        row = next(line for line in GITOPS.read_text().splitlines() if line.startswith(f"| {label} |"))
        documented |= dict.fromkeys(re.findall(r"`([A-Za-z]+)`", row), health)
    assert documented == {reason.value: reason.health for reason in Reason}


@pytest.mark.parametrize(("ready", "reconciling", "stalled"), [
    (Condition(READY, True, Reason.READY), False, False),
    (Condition(READY, False, Reason.CREATING, "creating the VM"), True, False),
    (Condition(READY, False, Reason.UNREACHABLE, "vCenter does not answer"), True, False),
    (Condition(READY, False, Reason.POWER_CYCLE_REQUIRED, "set powerCyclePolicy"), False, True),
    (Condition(READY, False, Reason.NOT_SUPPORTED, "not on SCVMM"), False, True),
])
def test_reconciling_and_stalled_follow_ready(ready: Condition, reconciling: bool, stalled: bool) -> None:
    got_reconciling, got_stalled = progress(ready)
    assert (got_reconciling.status, got_stalled.status) == (reconciling, stalled)
    assert got_reconciling.reason is got_stalled.reason is ready.reason
    shown = got_stalled if stalled else got_reconciling
    assert shown.message == (ready.message if reconciling or stalled else "")


def test_only_a_spec_change_heals_a_final_reason_and_every_final_reason_is_stalled() -> None:
    assert all(r.health is Health.STALLED for r in Reason if r.final)
    assert not Reason.UNREACHABLE.final and Reason.UNREACHABLE.transient
