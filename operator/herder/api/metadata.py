"""What every herder kind is made of: the model base, names, metadata, conditions and status, the kind table.

Models use snake_case attributes and serialize to the camelCase names Kubernetes uses
(``model.to_k8s()`` or ``model.model_dump(by_alias=True)``).  They accept both spellings on input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "herder.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "herder"

#: Upper bounds that keep objects (and the CEL cost estimate) small.
MAX_NAME = 253
MAX_CONDITIONS = 16
MAX_LABELS = 64


def cel(
    rule: str, message: str, *, field_path: str | None = None, reason: str | None = None
) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry (a CEL rule evaluated by the API server)."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def immutable(field: str) -> dict[str, str]:
    """A transition rule on a field node: once stored, the value never changes."""
    return cel("self == oldSelf", f"{field} is immutable")


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules, for ``Field(...)`` or ``model_config``."""
    return {"x-kubernetes-validations": list(rules)}


class HerderModel(BaseModel):
    """Base of every herder API model: camelCase on the wire, unknown keys ignored when parsing."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=False,
        extra="ignore",
    )

    def to_k8s(self) -> dict[str, Any]:
        """The JSON-compatible dict the API server expects (camelCase, unset optionals left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------------- names

Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
"""A Kubernetes object name (RFC 1123 subdomain)."""

NamespaceName = Annotated[
    str,
    Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
]
"""A Kubernetes namespace name (RFC 1123 label)."""

BackendName = Annotated[str, Field(min_length=1, max_length=1024)]
"""A name or inventory path in the backend (vCenter inventory, SCVMM object name)."""


# ---------------------------------------------------------------------------------- conditions/status


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(HerderModel):
    """A metav1.Condition: one aspect of the object's current state."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        description="Type of condition in CamelCase, e.g. Ready, Provisioned, PowerSynced.",
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was set from."
    )
    last_transition_time: datetime = Field(
        description="Last time the condition changed from one status to another."
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="Programmatic identifier (CamelCase) for the condition's last transition.",
    )
    message: str = Field(
        max_length=32768, description="Human-readable message about the transition; may be empty."
    )


class Operation(StrEnum):
    """What a backend task does. Recorded with the task in status (the CRD allows only these), so following it
    is told apart."""

    CREATE = "create"
    RECONFIGURE = "reconfigure"
    POWER_ON = "power-on"
    POWER_OFF = "power-off"
    SUSPEND = "suspend"
    GUEST_SHUTDOWN = "guest-shutdown"  # a power-off through the guest OS
    DESTROY = "destroy"
    COMPENSATE = "destroy-failed-create"  # destroying what a failed create left behind
    RELOCATE = "relocate"
    CAPTURE = "capture"
    IMPORT = "import"
    SNAPSHOT = "snapshot"
    REVERT = "revert"
    REMOVE_SNAPSHOT = "remove-snapshot"

    @property
    def changes_power(self) -> bool:
        return self in {Operation.POWER_ON, Operation.POWER_OFF, Operation.SUSPEND, Operation.GUEST_SHUTDOWN}


class PendingTask(HerderModel):
    """A backend task (vCenter Task / SCVMM job) in flight, recorded before it is awaited.

    The controller never starts a second task for the same object while one is recorded here: after a
    restart it follows the recorded task to completion instead.
    """

    id: str = Field(
        min_length=1, max_length=256, description="Backend task ID (vCenter task moref or SCVMM job ID)."
    )
    operation: Operation = Field(description="What the task does.")
    started_at: datetime = Field(description="When herder started the task.")


class Status(HerderModel):
    """Status fields every herder kind carries (kstatus-compatible)."""

    conditions: list[Condition] | None = Field(
        default=None,
        max_length=MAX_CONDITIONS,
        description="Current state, one condition per aspect; `Ready` summarises them.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the controller last acted on."
    )

    #: condition types this kind uses, documentation for controllers (not part of the schema)
    condition_types: ClassVar[tuple[str, ...]] = ("Ready",)

    def condition(self, type_: str) -> Condition | None:
        """The condition of the given type, if present."""
        for item in self.conditions or []:
            if item.type == type_:
                return item
        return None

    def is_ready(self) -> bool:
        found = self.condition("Ready")
        return found is not None and found.status == ConditionStatus.TRUE


class KindMeta(HerderModel):
    """The ObjectMeta fields herder models read; everything else is kept as-is on the server."""

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# Printer column helpers.
READY_COLUMN: dict[str, Any] = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
}
REASON_COLUMN: dict[str, Any] = {
    "name": "Reason",
    "type": "string",
    "priority": 1,
    "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
}
AGE_COLUMN: dict[str, Any] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


class Resource(HerderModel):
    """Fields every herder object has; subclasses add ``spec`` and ``status``."""

    api_version: str = Field(default=API_VERSION, description="herder.dev/v1alpha1")
    kind: str = Field(description="The object's kind.")
    metadata: KindMeta = Field(default_factory=KindMeta, description="Standard object metadata.")


class Scope(StrEnum):
    CLUSTER = "Cluster"
    NAMESPACED = "Namespaced"


@dataclass(frozen=True)
class KindInfo:
    """What controllers, RBAC generation and the CRD generator need to know about one kind."""

    model: type[Resource]
    kind: str
    plural: str
    singular: str
    scope: Scope
    short_names: tuple[str, ...] = ()
    printer_columns: tuple[dict[str, Any], ...] = ()
    scale: bool = False
    categories: tuple[str, ...] = (CATEGORY,)
    rules: tuple[dict[str, str], ...] = ()  # CEL rules on the whole object (they may read metadata.name)
    administered: bool = False  # namespaced, but written by platform administrators only (quotas)

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    @property
    def api_version(self) -> str:
        return API_VERSION

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def namespaced(self) -> bool:
        return self.scope == Scope.NAMESPACED
