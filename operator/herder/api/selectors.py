"""Kubernetes label selectors (metav1.LabelSelector), as ResourcePools, zones and ClusterImages use them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from herder.api.labels import LabelKey, LabelValue, labels_field
from herder.api.metadata import MAX_LABELS, HerderModel, cel, validations


class LabelSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(HerderModel):
    """A metav1.LabelSelectorRequirement."""

    key: LabelKey = Field(description="The label key the selector applies to.")
    operator: LabelSelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[LabelValue] | None = Field(
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

    match_labels: dict[str, LabelValue] | None = labels_field(
        "Labels that must all be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, max_length=MAX_LABELS, description="Requirements that must all hold."
    )
