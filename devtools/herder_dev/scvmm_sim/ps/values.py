"""PowerShell values in Python and the conversions PowerShell applies to them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node

PSCUSTOMOBJECT = "System.Management.Automation.PSCustomObject"


class Props(MutableMapping[str, Any]):
    """An insertion-ordered mapping with case-insensitive keys, as PowerShell hashtables and objects have."""

    def __init__(self, items: dict[str, Any] | None = None) -> None:
        self._data: dict[str, tuple[str, Any]] = {}
        for k, v in (items or {}).items():
            self[k] = v

    def __getitem__(self, key: str) -> Any:
        return self._data[key.lower()][1]

    def __setitem__(self, key: str, value: Any) -> None:
        old = self._data.get(key.lower())
        self._data[key.lower()] = (old[0] if old else key, value)

    def __delitem__(self, key: str) -> None:
        del self._data[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data


class Hashtable(Props):
    """@{...}; a distinct type so that ConvertTo-Json and -is can tell it from an object."""


@dataclass
class PSObject:
    """An object with properties: [pscustomobject], VMM objects, error records."""

    type_name: str
    props: Props
    display: str | None = None  # what ToString() returns; None means the pscustomobject "@{a=1}" form

    @classmethod
    def custom(cls, props: dict[str, Any]) -> PSObject:
        return cls(PSCUSTOMOBJECT, Props(props))


@dataclass(frozen=True)
class PSEnum:
    """A .NET enum value: its name in strings and comparisons, its number in ConvertTo-Json (as in 5.1)."""

    type_name: str
    name: str
    value: int


@dataclass(frozen=True)
class TypeRef:
    """A type literal such as [guid], kept by its canonical name."""

    name: str


@dataclass
class ScriptBlock:
    node: Node
    source: bytes = field(repr=False)


def unroll(value: Any) -> list[Any]:
    """What a value becomes when written to the pipeline: arrays enumerate, everything else is one item."""
    return list(value) if isinstance(value, list) else [value]


def collect(items: list[Any]) -> Any:
    """What a pipeline's output becomes when assigned: nothing is $null, one item is itself."""
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def to_bool(value: Any) -> bool:
    if isinstance(value, list):
        if len(value) == 1:
            return to_bool(value[0])
        return len(value) > 0
    if value is None:
        return False
    if isinstance(value, bool | int | float | str):
        return bool(value)
    return True


def format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_str(value: Any) -> str:
    """PowerShell's string conversion (as used by "$x" and [string]), en-US culture."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(to_str(v) for v in value)
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, PSObject):
        if value.display is not None:
            return value.display
        return "@{" + "; ".join(f"{k}={to_str(v)}" for k, v in value.props.items()) + "}"
    if isinstance(value, dt.datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S").lstrip("0").replace("/0", "/")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, TypeRef | PSEnum):
        return value.name
    if isinstance(value, ScriptBlock):
        return value.node.text.decode()[1:-1] if value.node.text else ""
    raise TypeError(f"no string form for {type(value).__name__}")


def type_name(value: Any) -> str:
    """The .NET type name PowerShell reports for a value."""
    names: list[tuple[type, str]] = [
        (bool, "System.Boolean"), (int, "System.Int32"), (float, "System.Double"), (str, "System.String"),
        (list, "System.Object[]"), (Hashtable, "System.Collections.Hashtable"),
        (dt.datetime, "System.DateTime"), (uuid.UUID, "System.Guid"),
        (ScriptBlock, "System.Management.Automation.ScriptBlock"),
        (TypeRef, "System.RuntimeType"),
    ]
    if isinstance(value, PSObject | PSEnum):
        return value.type_name
    for py, name in names:
        if isinstance(value, py):
            return name
    return "null" if value is None else type(value).__name__
