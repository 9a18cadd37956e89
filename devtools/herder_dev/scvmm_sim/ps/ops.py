"""PowerShell's binary operators, with its conversions: the left operand decides the comparison type."""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Callable
from typing import Any

from herder_dev.scvmm_sim.ps.errors import NotSupportedError, runtime_error
from herder_dev.scvmm_sim.ps.values import Hashtable, PSEnum, PSObject, TypeRef, to_bool, to_str

Matches = dict[str, Any]


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return int(value.strip()) if value.strip().lstrip("-+").isdigit() else float(value)
        except ValueError:
            pass
    raise runtime_error(f'Cannot convert value "{to_str(value)}" to type "System.Int32". Error: '
                        f'"Input string was not in a correct format."', "InvalidCastFromStringToInteger")


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Convert right to left's type, as PowerShell does before comparing."""
    if isinstance(left, PSEnum):
        return (left.value, _number(right)) if isinstance(right, int) else (left.name.lower(), to_str(right).lower())
    if isinstance(left, str):
        return left.lower(), to_str(right).lower()
    if isinstance(left, uuid.UUID):  # a string on the right is read as a GUID
        return str(left), to_str(right).strip("{}").lower()
    if isinstance(left, bool):
        return left, to_bool(right)
    if isinstance(left, int | float) and right is not None:
        return left, _number(right)
    if isinstance(left, PSObject | Hashtable) or isinstance(right, PSObject | Hashtable):
        return id(left), id(right)  # reference equality
    return left, right


def _eq(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    a, b = _coerce(left, right)
    return bool(a == b)


def _order(left: Any, right: Any, test: Callable[[Any, Any], bool]) -> bool:
    if left is None or right is None:  # $null sorts before everything
        return test(0 if left is None else 1, 0 if right is None else 1)
    a, b = _coerce(left, right)
    try:
        return test(a, b)
    except TypeError as exc:
        raise runtime_error(f"Cannot compare \"{to_str(left)}\" to \"{to_str(right)}\".") from exc


def _like(left: Any, right: Any) -> bool:
    return fnmatch.fnmatchcase(to_str(left).lower(), to_str(right).lower())


def _scalar_compare(op: str, left: Any, right: Any, matches: Matches) -> bool:
    if op == "-eq":
        return _eq(left, right)
    if op == "-ne":
        return not _eq(left, right)
    if op == "-gt":
        return _order(left, right, lambda a, b: a > b)
    if op == "-ge":
        return _order(left, right, lambda a, b: a >= b)
    if op == "-lt":
        return _order(left, right, lambda a, b: a < b)
    if op == "-le":
        return _order(left, right, lambda a, b: a <= b)
    if op == "-like":
        return _like(left, right)
    if op == "-notlike":
        return not _like(left, right)
    if op in ("-match", "-notmatch"):
        found = re.search(to_str(right), to_str(left), re.IGNORECASE)
        if found and op == "-match":
            matches.clear()
            matches.update({str(i): g for i, g in enumerate([found.group(0), *found.groups()])})
            matches.update(found.groupdict())
        return (found is not None) == (op == "-match")
    raise NotSupportedError(f"the operator {op}")


SCALAR_OPS = {"-eq", "-ne", "-gt", "-ge", "-lt", "-le", "-like", "-notlike", "-match", "-notmatch"}


def compare(op: str, left: Any, right: Any, matches: Matches) -> Any:
    op = op.lower()
    if op.startswith("-i"):
        op = "-" + op[2:]
    if op.startswith("-c") and op not in ("-contains",):
        raise NotSupportedError(f"the case-sensitive operator {op}")
    if op in SCALAR_OPS:
        if isinstance(left, list):  # with a collection on the left, comparison operators filter it
            return [x for x in left if _scalar_compare(op, x, right, matches)]
        return _scalar_compare(op, left, right, matches)
    if op in ("-contains", "-notcontains"):
        items = left if isinstance(left, list) else [left]
        return any(_eq(x, right) for x in items) == (op == "-contains")
    if op in ("-in", "-notin"):
        items = right if isinstance(right, list) else [right]
        return any(_eq(left, x) for x in items) == (op == "-in")
    if op in ("-is", "-isnot"):
        if not isinstance(right, TypeRef):
            raise runtime_error("The right operand of -is must be a type.")
        from herder_dev.scvmm_sim.ps.members import is_instance

        return is_instance(left, right) == (op == "-is")
    if op == "-replace":
        pattern, repl = [*right, ""][:2] if isinstance(right, list) else (right, "")
        repl_py = re.sub(r"\$(\d+)", r"\\\1", to_str(repl))
        return re.sub(to_str(pattern), repl_py, to_str(left), flags=re.IGNORECASE)
    if op == "-split":
        return re.split(to_str(right), to_str(left), flags=re.IGNORECASE)
    if op == "-join":
        return to_str(right).join(to_str(x) for x in (left if isinstance(left, list) else [left]))
    raise NotSupportedError(f"the operator {op}")


def arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        if isinstance(left, list):
            return left + (right if isinstance(right, list) else [right])
        if isinstance(left, str):
            return left + to_str(right)
        if isinstance(left, Hashtable) and isinstance(right, Hashtable):
            dup = [k for k in right if k in left]
            if dup:
                raise runtime_error(f"Item has already been added. Key in dictionary: '{dup[0]}'")
            merged = Hashtable(dict(left.items()))
            merged.update(right)
            return merged
        if left is None:
            return right
    if op == "*" and isinstance(left, str):
        return left * int(_number(right))
    a, b = _number(left), _number(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 and op in ("/", "%"):
        raise runtime_error("Attempted to divide by zero.", "RuntimeException")
    if op == "/":
        return a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b
    if op == "%":
        return a % b
    raise NotSupportedError(f"the operator {op}")


def logical(op: str, left: bool, right: Callable[[], Any]) -> bool:
    op = op.lower()
    if op == "-and":
        return left and to_bool(right())
    if op == "-or":
        return left or to_bool(right())
    if op == "-xor":
        return left != to_bool(right())
    raise NotSupportedError(f"the operator {op}")


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def format_string(fmt: str, args: list[Any]) -> str:
    """The -f operator for {index[,align][:N<digits>|D<digits>]}, the forms scripts realistically use."""

    def item(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        index = int(m.group(1))
        if index >= len(args):
            raise runtime_error("Index (zero based) must be greater than or equal to zero and less than the "
                                "size of the argument list.", "FormatError")
        value, spec = args[index], m.group(3)
        if not spec:
            text = to_str(value)
        elif spec[0] in "Nn" and (spec[1:].isdigit() or spec[1:] == ""):
            text = f"{float(_number(value)):,.{int(spec[1:] or 2)}f}"
        elif spec[0] in "Dd" and (spec[1:].isdigit() or spec[1:] == ""):
            text = str(int(_number(value))).zfill(int(spec[1:] or 0))
        else:
            raise NotSupportedError(f"the format specifier '{spec}'")
        width = int(m.group(2) or 0)
        return text.rjust(width) if width > 0 else text.ljust(-width)

    return _FORMAT_ITEM.sub(item, fmt)

