"""Kubernetes quantities (`512Mi`, `4Gi`, `100G`): validated and parsed once, where they enter the API."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

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
    """A quantity in MiB, rounded up to a whole MiB (what vCenter and SCVMM take for memory). For raw objects
    (indexes, stored status); models carry a `ParsedQuantity`."""
    size = quantity_to_bytes(value)
    return -(-size // 2**20)


def format_mib(mib: int) -> str:
    """The canonical quantity string for a size in MiB (``4096`` -> ``"4Gi"``)."""
    if mib and mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    return f"{mib}Mi"


class ParsedQuantity(str):
    """A quantity as the user wrote it (what is stored and shown), with its size parsed once: `.bytes`, `.mib`."""

    bytes: int

    def __new__(cls, text: str) -> ParsedQuantity:
        made = super().__new__(cls, text)
        made.bytes = quantity_to_bytes(text)
        return made

    @property
    def mib(self) -> int:
        """Rounded up to a whole MiB (what vCenter and SCVMM take for memory)."""
        return -(-self.bytes // 2**20)


def _coerce_quantity(value: Any) -> Any:
    if isinstance(value, ParsedQuantity):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return ParsedQuantity(str(value).strip())
    raise ValueError("a quantity is a whole number of bytes or a string like '4Gi'")


Quantity = Annotated[
    ParsedQuantity,
    PlainValidator(_coerce_quantity),
    PlainSerializer(str),
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
"""A non-negative Kubernetes quantity (``512Mi``, ``4Gi``, ``100G``); an integer means bytes. Stored as the
string the user wrote, parsed once on validation (`ParsedQuantity`)."""


def positive(field: str) -> dict[str, str]:
    """A CEL rule on a quantity node: greater than zero."""
    return {"rule": "quantity(string(self)).isGreaterThan(quantity('0'))",
            "message": f"{field} must be greater than 0"}
