"""The schedule planner: which run is due (at most one missed run made up for, within the deadline), its names,
time zones, retention, status and when to look again. The clock is an argument: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herder.api.schedule import ServerSnapshotScheduleSpec
from herder.reasons import Reason
from herder.reconcile.schedule import Cron, Held, InvalidSchedule, Recorded, expired, plan_schedule, run_name

T0 = datetime(2030, 3, 30, 0, 0, 30, tzinfo=UTC)  # the schedule's creation


def spec(**fields: Any) -> ServerSnapshotScheduleSpec:
    return ServerSnapshotScheduleSpec.model_validate({"schedule": "0 * * * *", "server": "web", "template": {},
                                                      "retention": {"keep": 2}} | fields)


def held(server: str, hour: int, *, ready: bool = True, failure: str | None = None) -> Held:
    at = T0.replace(second=0) + timedelta(hours=hour)
    return Held(run_name("nightly", server, at), server, at, ready_to_use=ready, failure=failure)


def test_nothing_is_due_before_the_first_cron_time_after_creation() -> None:
    p = plan_schedule("nightly", spec(), Recorded(), servers=["web"], held=[], created=T0, now=T0 + timedelta(
        minutes=50))
    assert p.create == ()
    assert p.fields["nextScheduleTime"] == "2030-03-30T01:00:00Z" and p.wake_at == T0.replace(hour=1, second=0)
    assert p.ready.status and p.interval == 3600


def test_a_due_run_makes_one_snapshot_per_server_named_after_the_run() -> None:
    now = T0 + timedelta(hours=1)
    p = plan_schedule("nightly", spec(server=None, selector={}), Recorded(), servers=["b", "a"], held=[],
                      created=T0, now=now)
    at = datetime(2030, 3, 30, 1, 0, tzinfo=UTC)
    assert p.create == (("nightly-a-203003300100", "a", at), ("nightly-b-203003300100", "b", at))
    assert p.fields["lastScheduleTime"] == "2030-03-30T01:00:00Z"
    # Made already (a pass repeated after a crash): nothing twice.
    again = plan_schedule("nightly", spec(), Recorded(), servers=["a"], held=[Held(
        "nightly-a-203003300100", "a", at)], created=T0, now=now)
    assert again.create == ()


def test_only_the_latest_missed_run_is_made_up_for() -> None:
    now = T0 + timedelta(hours=5, minutes=10)
    p = plan_schedule("nightly", spec(), Recorded(last_schedule=T0.replace(second=0)), servers=["web"], held=[],
                      created=T0, now=now)
    assert [c[2].hour for c in p.create] == [5]


def test_a_missed_run_past_the_starting_deadline_is_skipped() -> None:
    now = T0 + timedelta(hours=5, minutes=10)
    late = plan_schedule("nightly", spec(startingDeadlineSeconds=300), Recorded(), servers=["web"], held=[],
                         created=T0, now=now)
    assert late.create == () and late.fields["nextScheduleTime"] == "2030-03-30T06:00:00Z"
    in_time = plan_schedule("nightly", spec(startingDeadlineSeconds=900), Recorded(), servers=["web"], held=[],
                            created=T0, now=now)
    assert len(in_time.create) == 1


def test_suspended_makes_nothing_and_says_so() -> None:
    p = plan_schedule("nightly", spec(suspend=True), Recorded(), servers=["web"], held=[], created=T0,
                      now=T0 + timedelta(hours=3))
    assert p.create == () and p.fields["nextScheduleTime"] is None
    assert p.ready.reason is Reason.SUSPENDED and p.ready.status


def test_the_time_zone_decides_the_wall_clock_hour_across_a_dst_change() -> None:
    cron = Cron.parse("30 2 * * *", "Europe/Berlin")
    # 2030-03-31: clocks go from 02:00 to 03:00 in Berlin; 02:30 does not exist that day.
    first = cron.after(datetime(2030, 3, 30, 12, 0, tzinfo=UTC))
    assert first.astimezone(UTC).hour in {0, 1} and first.date().isoformat() == "2030-03-31"
    assert cron.after(datetime(2030, 4, 5, 12, 0, tzinfo=UTC)) == datetime(2030, 4, 6, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "zone"), [("0 0 31 2 *", None), ("0 * * * *", "Mars/Olympus_Mons")])
def test_what_the_api_server_cannot_check_is_reported(expression: str, zone: str | None) -> None:
    with pytest.raises(InvalidSchedule):
        Cron.parse(expression, zone)
    p = plan_schedule("nightly", spec(schedule=expression, timeZone=zone), Recorded(), servers=["web"], held=[],
                      created=T0, now=T0)
    assert p.ready.reason is Reason.INVALID_SCHEDULE and not p.ready.status and p.create == ()


def test_macros_read_as_their_cron_times() -> None:
    assert Cron.parse("@daily", None).after(T0) == datetime(2030, 3, 31, 0, 0, tzinfo=UTC)
    assert Cron.parse("@weekly", None).interval(T0) == 7 * 86400


def test_retention_keeps_the_newest_usable_per_server() -> None:
    snaps = [held("web", h) for h in (1, 2, 3)]
    assert expired(snaps, 2, None, T0 + timedelta(hours=4)) == [snaps[0].name]


def test_retention_never_counts_or_deletes_a_newer_unusable_snapshot() -> None:
    snaps = [held("web", 1), held("web", 2), held("web", 3, ready=False), held("web", 4, ready=False,
                                                                              failure="SnapshotFailed: x")]
    assert expired(snaps, 2, None, T0 + timedelta(hours=5)) == []
    assert expired([*snaps, held("web", 0)], 2, None, T0 + timedelta(hours=5)) == [held("web", 0).name]


def test_max_age_deletes_old_snapshots_but_never_the_last_usable_one() -> None:
    snaps = [held("web", 1), held("web", 30)]
    now = T0 + timedelta(hours=31)
    assert expired(snaps, None, 24 * 3600, now) == [snaps[0].name]
    assert expired(snaps, None, 3600 // 2, now) == [snaps[0].name], "the newest usable one stays"
    gone = [held("web", 1, ready=False, failure="ServerGone: x")]
    assert expired(gone, 2, 3600, now) == [gone[0].name], "with nothing usable, age alone decides"


def test_status_lists_the_held_snapshots_and_the_last_complete_run() -> None:
    snaps = [held("a", 1), held("b", 1), held("a", 2), held("b", 2, ready=False)]
    p = plan_schedule("nightly", spec(server=None, selector={}), Recorded(last_schedule=snaps[2].scheduled),
                      servers=["a", "b"], held=snaps, created=T0, now=T0 + timedelta(hours=2, minutes=1))
    assert p.fields["lastSuccessfulTime"] == "2030-03-30T01:00:00Z"
    assert p.fields["servers"] == [{"server": "a", "count": 2, "snapshots": [snaps[2].name, snaps[0].name]},
                                   {"server": "b", "count": 2, "snapshots": [snaps[3].name, snaps[1].name]}]


def test_a_failing_run_makes_the_schedule_not_ready() -> None:
    bad = held("web", 1, ready=False, failure="SnapshotFailed: quiescing failed")
    p = plan_schedule("nightly", spec(), Recorded(last_schedule=bad.scheduled), servers=["web"], held=[bad],
                      created=T0, now=T0 + timedelta(hours=1, minutes=5))
    assert not p.ready.status and p.ready.reason is Reason.SNAPSHOT_FAILED and "quiescing failed" in p.ready.message


def test_long_names_stay_valid() -> None:
    name = run_name("s" * 200, "v" * 200, T0)
    assert len(name) <= 253 and name.endswith("-203003300000")
