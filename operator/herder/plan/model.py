"""What a plan says, object by object: the values `herder plan` prints and writes as JSON
(`docs/plan.schema.json` describes the JSON; a test validates every output against it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1


class Action(enum.StrEnum):
    """What happens to an object as a whole."""

    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    NONE = "none"
    ERROR = "error"


class Do(enum.StrEnum):
    """One step herder would take (or a reason it would not go on)."""

    # ElasticCloudServer and its VM
    CREATE = "Create"
    ADOPT = "Adopt"
    RECONFIGURE = "Reconfigure"
    POWER_ON = "PowerOn"
    POWER_OFF = "PowerOff"
    SUSPEND = "Suspend"
    RELOCATE = "Relocate"
    RECREATE = "Recreate"
    REMOVE_FAILED_CREATE = "RemoveFailedCreate"
    DESTROY = "Destroy"
    ORPHAN = "Orphan"
    # ElasticCloudServerSet
    CREATE_SERVER = "CreateServer"
    DELETE_SERVER = "DeleteServer"
    UPDATE_SERVER = "UpdateServer"
    REPLACE_SERVER = "ReplaceServer"
    # Image and ClusterImage
    USE_TEMPLATE = "UseTemplate"
    IMPORT = "Import"
    CAPTURE = "Capture"
    DELETE_TEMPLATE = "DeleteTemplate"
    KEEP_TEMPLATE = "KeepTemplate"
    # ResourcePool
    CREATE_POOL = "CreatePool"
    UPDATE_POOL = "UpdatePool"
    DELETE_POOL = "DeletePool"
    KEEP_POOL = "KeepPool"
    # ServerSnapshot and ServerSnapshotRestore
    TAKE_SNAPSHOT = "TakeSnapshot"
    REMOVE_SNAPSHOT = "RemoveSnapshot"
    REVERT = "Revert"
    # AvailabilityZone, VCenter, SCVMM
    CHECK_ZONE = "CheckZone"
    CONNECT = "Connect"
    # herder would stop here: a task to follow, a dependency to wait for, a change it will not make
    WAIT = "Wait"
    BLOCKED = "Blocked"

    @property
    def changes_backend(self) -> bool:
        """Whether the step changes something on a backend (or, for a set, its servers)."""
        return self not in {Do.USE_TEMPLATE, Do.KEEP_TEMPLATE, Do.KEEP_POOL, Do.CHECK_ZONE, Do.CONNECT, Do.WAIT,
                            Do.BLOCKED, Do.ORPHAN}


@dataclass(frozen=True)
class Change:
    """One value before and after (None: there is none)."""

    what: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Step:
    do: Do
    summary: str
    changes: tuple[Change, ...] = ()
    data_loss: bool = False
    reason: str | None = None  # the condition reason herder would report (Wait, Blocked)
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Why an object cannot be planned or would not progress: the API server's word, or herder's reason."""

    reason: str
    message: str


@dataclass
class ObjectPlan:
    api_version: str
    kind: str
    name: str
    namespace: str | None
    action: Action = Action.NONE
    source: str = ""  # where it came from: file and document number, "--prune", or the set that owns it
    spec_changes: list[Change] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass
class PlanResult:
    objects: list[ObjectPlan]
    ignored: list[str] = field(default_factory=list)  # non-herder objects in the input
    errors: list[Problem] = field(default_factory=list)  # not about one object (unreadable input, no cluster)
    backend_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    server_side_validation: bool = True  # the API server's dry run judged the input (else herder's models)
    validation_note: str | None = None

    def count(self, action: Action) -> int:
        return sum(1 for o in self.objects if o.action is action)

    @property
    def exit_code(self) -> int:
        """As `terraform plan -detailed-exitcode`: 1 errors, 2 changes, 0 nothing to do."""
        if self.errors or self.count(Action.ERROR):
            return 1
        return 2 if any(o.action is not Action.NONE for o in self.objects) else 0


def _change(c: Change) -> dict[str, Any]:
    return {"what": c.what, "before": c.before, "after": c.after}


def _step(s: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"do": s.do.value, "summary": s.summary, "changesBackend": s.do.changes_backend,
                           "dataLoss": s.data_loss, "changes": [_change(c) for c in s.changes]}
    if s.reason:
        out["reason"] = s.reason
    if s.details:
        out["details"] = dict(s.details)
    return out


def to_json(result: PlanResult) -> dict[str, Any]:
    return {
        "formatVersion": FORMAT_VERSION,
        "summary": {"create": result.count(Action.CREATE), "change": result.count(Action.CHANGE),
                    "delete": result.count(Action.DELETE), "unchanged": result.count(Action.NONE),
                    "errors": result.count(Action.ERROR) + len(result.errors)},
        "exitCode": result.exit_code,
        "serverSideValidation": result.server_side_validation,
        "validationNote": result.validation_note,
        "objects": [{
            "apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name,
            "action": o.action.value, "source": o.source,
            "specChanges": [_change(c) for c in o.spec_changes],
            "steps": [_step(s) for s in o.steps],
            "problems": [{"reason": p.reason, "message": p.message} for p in o.problems],
            "notes": list(o.notes),
        } for o in result.objects],
        "ignored": list(result.ignored),
        "errors": [{"reason": p.reason, "message": p.message} for p in result.errors],
        "backendRequests": {k: dict(v) for k, v in result.backend_requests.items()},
    }
