"""Label keys and values, checked as the API server checks metadata.labels, for the places herder takes them
in a spec: selectors and an ECS set's template.

Values are plain OpenAPI patterns. Map keys cannot carry a pattern in a structural schema, so a map's keys are
checked by one CEL rule on the map; its message names the rule, and the API server prefixes the field path.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from herder.api.metadata import MAX_LABELS, cel, validations

#: A label value: empty, or at most 63 alphanumerics, '-', '_' and '.', starting and ending alphanumeric.
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
#: A label key: an optional DNS subdomain prefix (at most 253 characters) and '/', then a name of at most 63.
LABEL_KEY_PATTERN = rf"^({_DNS_SUBDOMAIN}/)?{_NAME}$"
MAX_KEY = 253 + 1 + 63
KEY_RULE_TEXT = ("an optional DNS subdomain prefix of at most 253 characters and '/', then a name of at most 63 "
                 "characters (alphanumerics, '-', '_', '.'; starting and ending alphanumeric)")


def _cel_string(pattern: str) -> str:
    """A regular expression as a CEL single-quoted string literal."""
    return "'" + pattern.replace("\\", "\\\\") + "'"


def _prefix_fits(variable: str) -> str:
    return f"(!{variable}.contains('/') || {variable}.indexOf('/') <= 253)"


def keys_rule() -> dict[str, Any]:
    """CEL on a map: every key is a valid label key (annotation keys follow the same syntax)."""
    return cel(f"self.all(k, k.matches({_cel_string(LABEL_KEY_PATTERN)}) && {_prefix_fits('k')})",
               f"every key must be a valid label key: {KEY_RULE_TEXT}")


LabelValue = Annotated[
    str,
    Field(max_length=63, pattern=LABEL_VALUE_PATTERN),
]
"""A label value, as metadata.labels takes it."""

LabelKey = Annotated[
    str,
    Field(min_length=1, max_length=MAX_KEY, pattern=LABEL_KEY_PATTERN,
          json_schema_extra=validations(cel(_prefix_fits("self"),
                                            "the prefix of a label key is at most 253 characters"))),
]
"""A label key, as metadata.labels takes it."""


def labels_field(description: str) -> Any:
    """`Field(...)` for an optional map keyed by label keys (labels, or annotations)."""
    return Field(default=None, max_length=MAX_LABELS, description=description,
                 json_schema_extra=validations(keys_rule()))
