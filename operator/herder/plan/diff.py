"""What changes in an object's spec (and labels and annotations), path by path, in the words of the YAML."""

from __future__ import annotations

import json
from typing import Any

from herder.plan.model import Change

MAX_VALUE = 80  # longer values (a CA bundle) are shortened for people; the JSON output has them whole


def _flat(value: Any, path: str, out: dict[str, str]) -> None:
    if value in ({}, []):
        return  # an empty default says nothing
    if isinstance(value, dict):
        for key, item in value.items():
            _flat(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and all(isinstance(item, dict) and "name" in item for item in value):
        for item in value:  # named list items (disks, NICs): by name, so one change is one line
            _flat({k: v for k, v in item.items() if k != "name"} or item, f"{path}[{item['name']}]", out)
    else:
        out[path] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def flatten(value: Any, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if value is not None:
        _flat(value, path, out)
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> list[Change]:
    return [Change(path, before.get(path), after.get(path)) for path in sorted(before.keys() | after.keys())
            if before.get(path) != after.get(path)]
