"""Kubernetes label selectors, evaluated in memory: who may use a pool, an image or a zone. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from herder.api.selectors import LabelSelector, LabelSelectorOperator


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; unset or empty matches everything."""
    if selector is None:
        return True
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or ():
        present = req.key in labels
        values = set(req.values or ())
        if req.operator is LabelSelectorOperator.IN and not (present and labels[req.key] in values):
            return False
        if req.operator is LabelSelectorOperator.NOT_IN and present and labels[req.key] in values:
            return False
        if req.operator is LabelSelectorOperator.EXISTS and not present:
            return False
        if req.operator is LabelSelectorOperator.DOES_NOT_EXIST and present:
            return False
    return True
