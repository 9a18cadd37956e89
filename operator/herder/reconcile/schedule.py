"""Decisions for one ServerSnapshotSchedule: its spec, what it recorded, its servers and the snapshots it holds,
and the time now -> the snapshots to create and delete, and its status. Pure: the clock is an input.

- A run is due at the latest cron time after the last run (the schedule's creation, before its first) and not
  after now. Runs missed while herder was down are not made up one by one: only the latest one, and only
  within `startingDeadlineSeconds` of its time (like a CronJob's). Suspended, nothing runs.
- A run makes one ServerSnapshot per selected server, named `<schedule>-<server>-<UTC time of the run>`: the
  name is the run's identity, so a run repeated after a crash creates nothing twice.
- Retention, per server, over the snapshots this schedule made: the newest `keep` usable ones stay, and
  anything older than `maxAge` goes, except that a server's newest usable snapshot is never deleted. A
  snapshot still being taken or failed is never counted as kept, and never deleted while newer than the last
  one kept (it is reported instead).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from herder.api.schedule import MAX_STATUS_SERVERS, MAX_STATUS_SNAPSHOTS, ServerSnapshotScheduleSpec
from herder.reasons import Reason
from herder.reconcile.conditions import READY, Condition

MAX_NAME = 253
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@hourly": "0 * * * *"}
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"([0-9]+)([dhms])")


class InvalidSchedule(ValueError):
    """The schedule passed the API server's checks but cannot be read (31 February, an unknown time zone)."""


@dataclass(frozen=True)
class Cron:
    """A cron expression read in a time zone."""

    expression: str
    zone: ZoneInfo

    @classmethod
    def parse(cls, expression: str, time_zone: str | None) -> Cron:
        try:
            zone = ZoneInfo(time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidSchedule(f"spec.timeZone: unknown time zone {time_zone!r}") from None
        cron = cls(_MACROS.get(expression.strip(), expression.strip()), zone)
        cron.after(datetime(2000, 1, 1, tzinfo=UTC))  # reads the expression once: an impossible one fails here
        return cron

    def after(self, moment: datetime) -> datetime:
        """The first time strictly after `moment` (UTC)."""
        try:
            found = next(CronSim(self.expression, moment.astimezone(self.zone)))
        except (CronSimError, StopIteration) as exc:
            raise InvalidSchedule(f"spec.schedule {self.expression!r}: {exc}") from None
        return found.astimezone(UTC)

    def latest(self, since: datetime, now: datetime) -> datetime | None:
        """The latest time in (since, now], or None."""
        if self.after(since) > now:
            return None
        try:
            # CronSim counts backwards from a moment excluded: start just after now.
            found = next(CronSim(self.expression, (now + timedelta(seconds=1)).astimezone(self.zone), reverse=True))
        except (CronSimError, StopIteration) as exc:
            raise InvalidSchedule(f"spec.schedule {self.expression!r}: {exc}") from None
        found = found.astimezone(UTC)
        return found if since < found <= now else None

    def interval(self, now: datetime) -> float:
        """Seconds between the next two runs: what "2x the schedule's interval" is measured in."""
        first = self.after(now)
        return (self.after(first) - first).total_seconds()


def max_age_seconds(text: str) -> int:
    return sum(int(count) * _UNITS[unit] for count, unit in _DURATION.findall(text))


def run_name(schedule: str, server: str, at: datetime) -> str:
    stamp = at.astimezone(UTC).strftime("%Y%m%d%H%M")
    name = f"{schedule}-{server}-{stamp}"
    if len(name) > MAX_NAME:
        room = (MAX_NAME - len(stamp) - 2) // 2
        name = f"{schedule[:room].rstrip('.-')}-{server[:room].rstrip('.-')}-{stamp}"
    return name


@dataclass(frozen=True)
class Held:
    """A ServerSnapshot this schedule made, as it is now."""

    name: str
    server: str
    scheduled: datetime  # the run that made it
    ready_to_use: bool = False
    failure: str | None = None  # "<reason>: <message>" while it fails (not while it is being taken)
    deleting: bool = False


@dataclass(frozen=True)
class Recorded:
    last_schedule: datetime | None = None
    last_success: datetime | None = None


@dataclass(frozen=True)
class SchedulePlan:
    create: tuple[tuple[str, str, datetime], ...] = ()  # (name, server, run time)
    delete: tuple[str, ...] = ()
    ready: Condition = field(default_factory=lambda: Condition(READY, True, Reason.READY))
    fields: dict[str, object] = field(default_factory=dict)
    wake_at: datetime | None = None  # when to look again (the next run, or the next snapshot to age out)
    interval: float | None = None


def _stamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def due(cron: Cron, spec: ServerSnapshotScheduleSpec, recorded: Recorded, created: datetime,
        now: datetime) -> datetime | None:
    """The run to make now, if any: the latest missed one, within the starting deadline."""
    if spec.suspend:
        return None
    latest = cron.latest(recorded.last_schedule or created, now)
    if latest is None:
        return None
    deadline = spec.starting_deadline_seconds
    if deadline is not None and (now - latest).total_seconds() > deadline:
        return None
    return latest


def expired(held: Sequence[Held], keep: int | None, max_age: int | None, now: datetime) -> list[str]:
    """The names retention deletes, of one server's snapshots."""
    live = sorted((h for h in held if not h.deleting), key=lambda h: h.scheduled, reverse=True)
    usable = [h for h in live if h.ready_to_use]
    if not usable:  # nothing to keep (a server gone with its snapshots): only age decides
        return [h.name for h in live if max_age is not None and (now - h.scheduled).total_seconds() > max_age]
    kept = usable[:keep] if keep is not None else usable
    if max_age is not None:
        young = [h for h in kept if (now - h.scheduled).total_seconds() <= max_age]
        kept = young or usable[:1]  # never the last usable snapshot
    oldest_kept = min(h.scheduled for h in kept)
    kept_names = {h.name for h in kept}
    return [h.name for h in live if h.name not in kept_names and (h.ready_to_use or h.scheduled < oldest_kept)]


def _ages_out(held: Iterable[Held], max_age: int | None) -> datetime | None:
    if max_age is None:
        return None
    times = [h.scheduled + timedelta(seconds=max_age) for h in held if not h.deleting and h.ready_to_use]
    return min(times) if times else None


def plan_schedule(name: str, spec: ServerSnapshotScheduleSpec, recorded: Recorded, *, servers: Sequence[str],
                  held: Sequence[Held], created: datetime, now: datetime) -> SchedulePlan:
    """`servers`: the selected ElasticCloudServers' names; `held`: the ServerSnapshots this schedule made."""
    try:
        cron = Cron.parse(spec.schedule, spec.time_zone)
    except InvalidSchedule as exc:
        return SchedulePlan(ready=Condition(READY, False, Reason.INVALID_SCHEDULE, str(exc)))
    run = due(cron, spec, recorded, created, now)
    create: list[tuple[str, str, datetime]] = []
    if run is not None:
        made = {h.name for h in held}
        create = [(run_name(name, server, run), server, run) for server in sorted(servers)]
        create = [c for c in create if c[0] not in made]
    last_schedule = run or recorded.last_schedule
    by_server: dict[str, list[Held]] = defaultdict(list)
    for h in held:
        by_server[h.server].append(h)
    keep, max_age = spec.retention.keep, (max_age_seconds(spec.retention.max_age) if spec.retention.max_age
                                          else None)
    delete = [n for server_held in by_server.values() for n in expired(server_held, keep, max_age, now)]
    last_success = _last_success(held, recorded.last_success)
    next_run = None if spec.suspend else cron.after(now)
    ages_out = _ages_out(held, max_age)
    wake = min((t for t in (next_run, ages_out) if t is not None), default=None)
    fields: dict[str, object] = {"lastScheduleTime": _stamp(last_schedule), "lastSuccessfulTime": _stamp(last_success),
              "nextScheduleTime": _stamp(next_run), "servers": _held_status(by_server, set(delete)) or None}
    return SchedulePlan(tuple(create), tuple(sorted(delete)), _ready(spec, held, last_schedule, next_run, servers),
                        fields, wake, cron.interval(now))


def _last_success(held: Sequence[Held], recorded: datetime | None) -> datetime | None:
    """The latest run all of whose snapshots are ready to use (kept even once retention removed them)."""
    runs: dict[datetime, list[Held]] = defaultdict(list)
    for h in held:
        runs[h.scheduled].append(h)
    complete = [at for at, made in runs.items() if all(h.ready_to_use for h in made)]
    return max([*complete, *([recorded] if recorded else [])], default=None)


def _held_status(by_server: dict[str, list[Held]], deleting: set[str]) -> list[dict[str, object]]:
    rows = []
    for server in sorted(by_server)[:MAX_STATUS_SERVERS]:
        names = [h.name for h in sorted(by_server[server], key=lambda h: h.scheduled, reverse=True)
                 if not h.deleting and h.name not in deleting]
        if names:
            rows.append({"server": server, "count": len(names), "snapshots": names[:MAX_STATUS_SNAPSHOTS]})
    return rows


def _ready(spec: ServerSnapshotScheduleSpec, held: Sequence[Held], last: datetime | None, next_run: datetime | None,
           servers: Sequence[str]) -> Condition:
    failing = sorted((h for h in held if h.failure and h.scheduled == last), key=lambda h: h.name)
    if failing:
        return Condition(READY, False, Reason.SNAPSHOT_FAILED,
                         f"the run at {_stamp(last)} did not make {len(failing)} snapshot(s): "
                         + "; ".join(f"{h.name}: {h.failure}" for h in failing[:3]))
    if spec.suspend:
        return Condition(READY, True, Reason.SUSPENDED, "suspended: no new snapshots; retention still applies")
    return Condition(READY, True, Reason.READY, f"{len(servers)} server(s); next run at {_stamp(next_run)}")
