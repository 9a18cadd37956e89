"""Types shared by every herder kind: the model base, references, quantities, conditions, status.

Models use snake_case attributes and serialize to the camelCase names Kubernetes uses
(``model.to_k8s()`` or ``model.model_dump(by_alias=True)``).  They accept both spellings on input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
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


class DeletionPolicy(StrEnum):
    """What happens to the backend object when the Kubernetes object is deleted."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class ProviderKind(StrEnum):
    VCENTER = "VCenter"
    SCVMM = "SCVMM"


# ---------------------------------------------------------------------------------------- references


class SecretRef(HerderModel):
    """A reference to a Secret. Cluster-scoped kinds must set the namespace."""

    name: Name = Field(description="Name of the Secret.")
    namespace: NamespaceName | None = Field(
        default=None,
        description="Namespace of the Secret. Required when the referring object is cluster-scoped; "
        "namespaced objects may only refer to Secrets in their own namespace.",
    )


class SecretKeyRef(HerderModel):
    """A key in a Secret in the referring object's namespace."""

    name: Name = Field(description="Name of the Secret, in the same namespace as the referring object.")
    key: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the Secret. When unset the controller uses the documented default key of the "
        "field (userData: `userData`; sysprep: `unattend.xml`).",
    )


class ObjectRef(HerderModel):
    """A reference to another Kubernetes object."""

    kind: str | None = Field(default=None, max_length=63, description="Kind of the referent.")
    name: Name = Field(description="Name of the referent.")
    namespace: NamespaceName | None = Field(
        default=None, description="Namespace of the referent; unset for cluster-scoped referents."
    )


class ProviderRef(HerderModel):
    """A reference to the virtual infrastructure manager (a VCenter or an SCVMM object)."""

    kind: ProviderKind = Field(description="Kind of the provider object: VCenter or SCVMM.")
    name: Name = Field(description="Name of the (cluster-scoped) VCenter or SCVMM object.")


class LabelSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(HerderModel):
    """A metav1.LabelSelectorRequirement."""

    key: str = Field(min_length=1, max_length=317, description="The label key the selector applies to.")
    operator: LabelSelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[Annotated[str, Field(max_length=63)]] | None = Field(
        default=None,
        max_length=MAX_LABELS,
        description="Values for In and NotIn (non-empty); must be empty for Exists and DoesNotExist.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : "
                "(!has(self.values) || size(self.values) == 0)",
                "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
                field_path=".values",
            )
        )
    )


class LabelSelector(HerderModel):
    """A metav1.LabelSelector. An empty selector matches everything."""

    match_labels: dict[str, Annotated[str, Field(max_length=63)]] | None = Field(
        default=None,
        max_length=MAX_LABELS,
        description="Labels that must all be present with these values.",
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, max_length=MAX_LABELS, description="Requirements that must all hold."
    )


# ------------------------------------------------------------------------------------------ quantity

_NUMBER = r"(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
QUANTITY_PATTERN = rf"^{_NUMBER}(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?{_NUMBER}))?$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def parse_quantity(value: str | int) -> Decimal:
    """The numeric value of a non-negative Kubernetes quantity (``"4Gi"``, ``"1.5G"``, ``"1e3"``, 2048)."""
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a string like '4Gi', not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a quantity must not be negative")
        return Decimal(value)
    text = value.strip()
    if len(text) > 64 or not _QUANTITY_RE.fullmatch(text):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 512Mi, 4Gi, 100G, 1e9)")
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * factor
    if "e" in text.lower():
        return Decimal(text)
    if text[-1] in _DECIMAL and not text[-1].isdigit():
        return Decimal(text[:-1]) * _DECIMAL[text[-1]]
    return Decimal(text)


def quantity_to_bytes(value: str | int) -> int:
    """A quantity in bytes, rounded up to a whole byte."""
    number = parse_quantity(value)
    whole = int(number)
    return whole if number == whole else whole + 1


def quantity_to_mib(value: str | int) -> int:
    """A quantity in MiB, rounded up to a whole MiB (what vCenter and SCVMM take for memory)."""
    size = quantity_to_bytes(value)
    return -(-size // 2**20)


def format_mib(mib: int) -> str:
    """The canonical quantity string for a size in MiB (``4096`` -> ``"4Gi"``)."""
    if mib and mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    return f"{mib}Mi"


def _coerce_quantity(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        parse_quantity(value)
        return str(value)
    if isinstance(value, str):
        parse_quantity(value)
        return value.strip()
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_coerce_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "maxLength": 64,
            "minimum": 0,
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A non-negative Kubernetes quantity (``512Mi``, ``4Gi``, ``100G``); an integer means bytes.

Stored as the string the user wrote; convert with :func:`quantity_to_bytes` / :func:`quantity_to_mib`.
"""


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


class PendingTask(HerderModel):
    """A backend task (vCenter Task / SCVMM job) in flight, recorded before it is awaited.

    The controller never starts a second task for the same object while one is recorded here: after a
    restart it follows the recorded task to completion instead.
    """

    id: str = Field(
        min_length=1, max_length=256, description="Backend task ID (vCenter task moref or SCVMM job ID)."
    )
    operation: str = Field(
        min_length=1, max_length=64, description="What the task does, e.g. Clone, PowerOn, Reconfigure."
    )
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


class TLSConfig(HerderModel):
    """How the server's certificate is verified. Verification is on unless insecureSkipVerify is true."""

    ca_bundle: str | None = Field(
        default=None,
        max_length=65536,
        description="PEM-encoded CA certificate(s) that sign the server's certificate. Unset: the "
        "operator's system trust store.",
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip certificate verification. Only for test systems; must be set explicitly.",
    )


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
