"""ElasticCloudServerSet: N identical ElasticCloudServers from a template (namespaced, scalable)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from herder.api.ecs import ElasticCloudServerSpec
from herder.api.labels import LabelValue, labels_field
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Resource,
    Scope,
    Status,
    cel,
    immutable,
    validations,
)
from herder.api.selectors import LabelSelector

AnnotationValue = Annotated[str, Field(max_length=4096)]


class UpdateStrategyType(StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    ON_DELETE = "OnDelete"


class ServerTemplateMetadata(HerderModel):
    """Labels and annotations copied onto each server."""

    labels: dict[str, LabelValue] | None = labels_field("Labels; spec.selector must select them.")
    annotations: dict[str, AnnotationValue] | None = labels_field("Annotations.")


class ServerTemplate(HerderModel):
    """The servers to create."""

    metadata: ServerTemplateMetadata = Field(
        default_factory=ServerTemplateMetadata, description="Labels and annotations of each server."
    )
    spec: ElasticCloudServerSpec = Field(description="Spec of each server.")


class UpdateStrategy(HerderModel):
    """How template changes reach existing servers."""

    type: UpdateStrategyType = Field(
        default=UpdateStrategyType.ROLLING_UPDATE,
        description="RollingUpdate: changes that apply in place are applied to every server; changes that "
        "need a new server (image) replace servers a few at a time. OnDelete: only new servers get "
        "the template.",
    )
    max_unavailable: int = Field(
        default=1, ge=1, le=1000, description="RollingUpdate: at most this many servers are replaced at once."
    )


# One requirement `e` of the selector holds for the template's labels (metav1 LabelSelector semantics).
_LABELS = "self.template.metadata.labels"
_HAS = f"(has({_LABELS}) && e.key in {_LABELS})"
_SELECTS = (
    f"e.operator == 'In' ? ({_HAS} && has(e.values) && {_LABELS}[e.key] in e.values) : "
    f"e.operator == 'NotIn' ? (!{_HAS} || !has(e.values) || !({_LABELS}[e.key] in e.values)) : "
    f"e.operator == 'Exists' ? {_HAS} : !{_HAS}"
)


class ElasticCloudServerSetSpec(HerderModel):
    """A number of identical servers."""

    replicas: int = Field(default=1, ge=0, le=1000, description="Number of servers.")
    selector: LabelSelector = Field(
        description="Selects the servers the set owns; must match template.metadata.labels. Immutable.",
        json_schema_extra=validations(immutable("spec.selector")),
    )
    template: ServerTemplate = Field(description="Template for each server.")
    update_strategy: UpdateStrategy = Field(
        default_factory=UpdateStrategy, description="How template changes are rolled out."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.selector.matchLabels) || self.selector.matchLabels.all(k, "
                "has(self.template.metadata.labels) && k in self.template.metadata.labels && "
                "self.template.metadata.labels[k] == self.selector.matchLabels[k])",
                "spec.selector.matchLabels must match spec.template.metadata.labels",
                field_path=".selector.matchLabels",
            ),
            cel(
                "!has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, " + _SELECTS + ")",
                "spec.selector.matchExpressions must select spec.template.metadata.labels (a set counts only the "
                "servers its selector selects)",
                field_path=".selector.matchExpressions",
            ),
            cel(
                "has(self.selector.matchLabels) || has(self.selector.matchExpressions)",
                "spec.selector must not be empty",
                field_path=".selector",
            ),
            cel(
                "!has(self.template.spec.adoptFrom)",
                "spec.template.spec.adoptFrom is not allowed: every server of a set would adopt the same VM",
                field_path=".template.spec.adoptFrom",
            ),
        )
    )


class ElasticCloudServerSetStatus(Status):
    """Counts of the set's servers."""

    replicas: int | None = Field(default=None, ge=0, description="Servers that exist.")
    ready_replicas: int | None = Field(
        default=None, ge=0, description="Servers whose Ready condition is True."
    )
    updated_replicas: int | None = Field(
        default=None, ge=0, description="Servers matching the current template."
    )
    selector: str | None = Field(
        default=None, max_length=4096, description="spec.selector in string form (for the scale subresource)."
    )


class ElasticCloudServerSet(Resource):
    """A set of identical ElasticCloudServers; supports `kubectl scale`."""

    kind: str = "ElasticCloudServerSet"
    spec: ElasticCloudServerSetSpec = Field(description="Replicas, selector and template.")
    status: ElasticCloudServerSetStatus = Field(
        default_factory=ElasticCloudServerSetStatus, description="Observed state."
    )


KIND = KindInfo(
    model=ElasticCloudServerSet,
    kind="ElasticCloudServerSet",
    plural="elasticcloudserversets",
    singular="elasticcloudserverset",
    scope=Scope.NAMESPACED,
    short_names=("ecsset",),
    scale=True,
    printer_columns=(
        {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Current", "type": "integer", "jsonPath": ".status.replicas"},
        {"name": "Ready Servers", "type": "integer", "jsonPath": ".status.readyReplicas"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
