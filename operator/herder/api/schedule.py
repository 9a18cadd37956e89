"""ServerSnapshotSchedule: ServerSnapshots of one server or a selection of servers on a cron schedule, with
retention (namespaced)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from herder.api.common import DeletionPolicy
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Name,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)
from herder.api.selectors import LabelSelector

MAX_KEEP = 100
MAX_STATUS_SERVERS = 64
MAX_STATUS_SNAPSHOTS = 32


def _cron_field(value: str) -> str:
    """One cron field: `*` or a value or range, with an optional step, in a comma list."""
    one = rf"(\*|{value}(-{value})?)(/[1-9][0-9]*)?"
    return rf"{one}(,{one})*"


_MINUTE = r"([0-5]?[0-9])"
_HOUR = r"([01]?[0-9]|2[0-3])"
_DAY = r"(0?[1-9]|[12][0-9]|3[01])"
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_MONTH = rf"(0?[1-9]|1[0-2]|{_MONTHS}|{_MONTHS.lower()})"
_WEEKDAY = rf"([0-7]|{_DAYS}|{_DAYS.lower()})"
# Five fields (minute hour day-of-month month day-of-week) or a macro: a typo is refused by the API server.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|hourly)|"
    + r" +".join(_cron_field(f) for f in (_MINUTE, _HOUR, _DAY, _MONTH, _WEEKDAY))
    + r")$"
)
# Go-style durations of whole units, e.g. 36h, 7d, 1d12h, 90m.
DURATION_PATTERN = r"^([0-9]+(d|h|m|s))+$"
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"


class SnapshotTemplate(HerderModel):
    """What each ServerSnapshot the schedule makes asks for (see ServerSnapshot.spec)."""

    memory: bool = Field(default=False, description="Include the memory of a running server (vCenter only).")
    quiesce: bool = Field(default=False, description="Quiesce the guest file systems first.")
    description: str | None = Field(default=None, max_length=1024, description="Free-form description.")
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Of each ServerSnapshot: Delete removes the backend snapshot with the object (retention, "
        "the schedule's deletion); Orphan leaves it on the backend.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("!(self.memory && self.quiesce)", "spec.template.quiesce cannot be combined with "
                "spec.template.memory", field_path=".quiesce")
        )
    )


class Retention(HerderModel):
    """Which of the schedule's snapshots it keeps, per server. A server's newest usable snapshot is never
    deleted by retention."""

    keep: int | None = Field(default=None, ge=1, le=MAX_KEEP,
                             description="How many snapshots to keep per server (newest first).")
    max_age: str | None = Field(
        default=None, max_length=32, pattern=DURATION_PATTERN,
        description="Delete snapshots older than this, e.g. 7d, 36h, 1d12h.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("has(self.keep) || has(self.maxAge)", "spec.retention needs keep or maxAge (or both)")
        )
    )


class ServerSnapshotScheduleSpec(HerderModel):
    """When to snapshot which servers, how, and how many snapshots to keep."""

    schedule: str = Field(
        max_length=256, pattern=CRON_PATTERN,
        description="Cron schedule: five fields (minute hour day-of-month month day-of-week) or @hourly, "
        "@daily, @weekly, @monthly, @yearly.",
    )
    time_zone: str | None = Field(
        default=None, max_length=64, pattern=TIME_ZONE_PATTERN,
        description="IANA time zone the schedule is read in, e.g. Europe/Berlin. Unset: UTC.",
    )
    server: Name | None = Field(default=None, description="One ElasticCloudServer (same namespace).")
    selector: LabelSelector | None = Field(
        default=None, description="ElasticCloudServers of the namespace whose labels match.")
    template: SnapshotTemplate = Field(description="The snapshots it makes.")
    retention: Retention = Field(description="Which of its snapshots it keeps.")
    starting_deadline_seconds: int | None = Field(
        default=None, ge=0,
        description="A run missed (herder was down) by more than this is skipped; unset: the latest missed run is "
        "made as soon as herder is back. At most one missed run is ever made up for.",
    )
    suspend: bool = Field(default=False, description="Make no new snapshots (retention still applies).")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("has(self.server) != has(self.selector)", "set exactly one of spec.server and spec.selector"),
        )
    )


class ScheduledServer(HerderModel):
    """The snapshots the schedule holds of one server."""

    server: Name = Field(description="The ElasticCloudServer.")
    count: int = Field(ge=0, description="How many snapshots of it the schedule holds.")
    snapshots: list[Name] | None = Field(
        default=None, max_length=MAX_STATUS_SNAPSHOTS, description="Their names, newest first.")


class ServerSnapshotScheduleStatus(Status):
    """What the schedule did last, and will do next."""

    last_schedule_time: datetime | None = Field(default=None, description="The last run made.")
    last_successful_time: datetime | None = Field(
        default=None, description="The last run whose snapshots all became ready to use.")
    next_schedule_time: datetime | None = Field(default=None, description="The next run, unless suspended.")
    servers: list[ScheduledServer] | None = Field(
        default=None, max_length=MAX_STATUS_SERVERS, description="The snapshots held, per server.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["server"]},
    )


class ServerSnapshotSchedule(Resource):
    """Takes ServerSnapshots on a schedule and deletes the oldest beyond retention."""

    kind: str = "ServerSnapshotSchedule"
    spec: ServerSnapshotScheduleSpec = Field(description="Schedule, servers, template and retention.")
    status: ServerSnapshotScheduleStatus = Field(
        default_factory=ServerSnapshotScheduleStatus, description="Observed state.")


KIND = KindInfo(
    model=ServerSnapshotSchedule,
    kind="ServerSnapshotSchedule",
    plural="serversnapshotschedules",
    singular="serversnapshotschedule",
    scope=Scope.NAMESPACED,
    short_names=("ssched",),
    printer_columns=(
        {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
        {"name": "Suspend", "type": "boolean", "jsonPath": ".spec.suspend"},
        {"name": "Last", "type": "date", "jsonPath": ".status.lastScheduleTime"},
        {"name": "LastSuccess", "type": "date", "priority": 1, "jsonPath": ".status.lastSuccessfulTime"},
        {"name": "Next", "type": "string", "priority": 1, "jsonPath": ".status.nextScheduleTime"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
