"""Member access, method calls, static members and casts: a deliberately small .NET surface."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from herder_dev.scvmm_sim.ps.errors import NotSupportedError, runtime_error
from herder_dev.scvmm_sim.ps.values import PSCUSTOMOBJECT, Hashtable, PSEnum, PSObject, TypeRef, to_bool, to_str

# Canonical names for the type literals the subset accepts.
TYPE_ALIASES = {
    "string": "System.String", "system.string": "System.String",
    "int": "System.Int32", "int32": "System.Int32", "system.int32": "System.Int32",
    "long": "System.Int64", "int64": "System.Int64", "system.int64": "System.Int64", "uint64": "System.UInt64",
    "double": "System.Double", "bool": "System.Boolean", "boolean": "System.Boolean", "switch": "System.Boolean",
    "guid": "System.Guid", "system.guid": "System.Guid",
    "datetime": "System.DateTime", "system.datetime": "System.DateTime",
    "array": "System.Array", "object[]": "System.Object[]", "string[]": "System.String[]",
    "hashtable": "System.Collections.Hashtable", "ordered": "ordered",
    "pscustomobject": PSCUSTOMOBJECT, "psobject": PSCUSTOMOBJECT,
    "math": "System.Math", "system.math": "System.Math", "convert": "System.Convert",
    "exception": "System.Exception", "system.exception": "System.Exception",
    "void": "System.Void",
}


def type_ref(name: str) -> TypeRef:
    canonical = TYPE_ALIASES.get(name.lower())
    if canonical is None:
        raise NotSupportedError(f"the type [{name}]")
    return TypeRef(canonical)


def is_instance(value: Any, t: TypeRef) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "System.String": lambda v: isinstance(v, str),
        "System.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "System.Int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "System.Boolean": lambda v: isinstance(v, bool),
        "System.Double": lambda v: isinstance(v, float),
        "System.Guid": lambda v: isinstance(v, uuid.UUID),
        "System.DateTime": lambda v: isinstance(v, dt.datetime),
        "System.Array": lambda v: isinstance(v, list),
        "System.Object[]": lambda v: isinstance(v, list),
        "System.Collections.Hashtable": lambda v: isinstance(v, Hashtable),
        PSCUSTOMOBJECT: lambda v: isinstance(v, PSObject),
    }
    check = checks.get(t.name)
    if check is None:
        raise NotSupportedError(f"-is with [{t.name}]")
    return check(value)


def _cast_error(value: Any, target: str, reason: str = "Input string was not in a correct format.") -> Exception:
    return runtime_error(f'Cannot convert value "{to_str(value)}" to type "{target}". Error: "{reason}"',
                         "InvalidCastFromStringToInteger", "InvalidArgument")


def to_int(value: Any, target: str = "System.Int32") -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, PSEnum):
        return value.value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)  # .NET rounds half to even, as Python does
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return round(float(value))
            except ValueError:
                raise _cast_error(value, target) from None
    if value is None:
        return 0
    raise _cast_error(value, target, "Invalid cast.")


def to_guid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value.strip("{}"))
        except ValueError:
            pass
    raise _cast_error(value, "System.Guid",
                      "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")


def cast(t: TypeRef, value: Any) -> Any:
    name = t.name
    if name == "System.String":
        return to_str(value)
    if name in ("System.Int32", "System.Int64", "System.UInt64"):
        return to_int(value, name)
    if name == "System.Double":
        return float(to_int(value)) if not isinstance(value, int | float | str) else float(value)
    if name == "System.Boolean":
        return to_bool(value)
    if name == "System.Guid":
        return to_guid(value)
    if name in ("System.Array", "System.Object[]"):
        return list(value) if isinstance(value, list) else ([] if value is None else [value])
    if name == "System.String[]":
        return [to_str(v) for v in (value if isinstance(value, list) else [value])]
    if name in ("System.Collections.Hashtable", "ordered") and isinstance(value, Hashtable):
        return value
    if name == PSCUSTOMOBJECT:
        if isinstance(value, Hashtable):
            return PSObject.custom(dict(value.items()))
        return value
    if name == "System.Void":
        return None
    raise NotSupportedError(f"a cast to [{name}] of {type(value).__name__}")


def get_member(value: Any, name: str, strict: bool) -> Any:
    """$value.name, including member enumeration over collections."""
    lname = name.lower()
    if isinstance(value, list):
        if lname in ("count", "length"):
            return len(value)
        found = [get_member(v, name, strict) for v in value]
        flat = [x for f in found for x in (f if isinstance(f, list) else [f]) if x is not None]
        return flat[0] if len(flat) == 1 else flat
    if isinstance(value, Hashtable):
        if name in value:
            return value[name]
        if lname == "count":
            return len(value)
        if lname == "keys":
            return list(value.keys())
        if lname == "values":
            return list(value.values())
        return None
    if isinstance(value, PSObject):
        if name in value.props:
            return value.props[name]
        if value.type_name != PSCUSTOMOBJECT and not value.type_name.startswith("Selected."):
            # A typo and a property the simulator does not model look alike; both must be loud.
            raise NotSupportedError(f"the property '{name}' of {value.type_name}")
        if strict:
            raise runtime_error(f"The property '{name}' cannot be found on this object. Verify that the "
                                "property exists.", "PropertyNotFoundStrict", "NotSpecified")
        return None
    if isinstance(value, str) and lname == "length":
        return len(value)
    if value is None:
        if strict:
            raise runtime_error(f"The property '{name}' cannot be found on this object. Verify that the "
                                "property exists.", "PropertyNotFoundStrict", "NotSpecified")
        return None
    if isinstance(value, dt.datetime):
        parts = {"year": value.year, "month": value.month, "day": value.day, "hour": value.hour,
                 "minute": value.minute, "second": value.second}
        if lname in parts:
            return parts[lname]
    if lname == "count":  # PowerShell gives every scalar a Count of 1
        return 1
    raise NotSupportedError(f"the property '{name}' of {type(value).__name__}")


def set_member(target: Any, name: str, value: Any) -> None:
    if isinstance(target, Hashtable):
        target[name] = value
    elif isinstance(target, PSObject) and name in target.props:
        target.props[name] = value
    elif isinstance(target, PSObject):
        raise runtime_error(f"The property '{name}' cannot be found on this object. Verify that the property "
                            "exists and can be set.", "PropertyAssignmentException", "InvalidOperation")
    else:
        raise NotSupportedError(f"setting a property on {type(target).__name__}")


def _string_method(s: str, name: str, args: list[Any]) -> Any:
    a = [to_str(x) for x in args]
    table: dict[str, Callable[[], Any]] = {
        "tostring": lambda: s, "tolower": s.lower, "toupper": s.upper, "tolowerinvariant": s.lower,
        "toupperinvariant": s.upper,
        "trim": lambda: s.strip(a[0]) if a else s.strip(),
        "trimstart": lambda: s.lstrip(a[0]) if a else s.lstrip(),
        "trimend": lambda: s.rstrip(a[0]) if a else s.rstrip(),
        "startswith": lambda: s.startswith(a[0]), "endswith": lambda: s.endswith(a[0]),
        "contains": lambda: a[0] in s, "indexof": lambda: s.find(a[0]),
        "replace": lambda: s.replace(a[0], a[1]),
        "split": lambda: _split_any(s, a[0]),
        "substring": lambda: s[to_int(args[0]): (to_int(args[0]) + to_int(args[1])) if len(args) > 1 else None],
    }
    if name not in table:
        raise NotSupportedError(f"the string method {name}()")
    return table[name]()


def _split_any(s: str, chars: str) -> list[str]:
    """String.Split(char[]): split on any one of the characters."""
    out, cur = [], ""
    for ch in s:
        if ch in chars:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur]


def call_method(target: Any, name: str, args: list[Any]) -> Any:
    lname = name.lower()
    if isinstance(target, str):
        return _string_method(target, lname, args)
    if lname == "tostring" and not args:
        return to_str(target)
    if isinstance(target, dt.datetime):
        if lname == "touniversaltime":
            return target.astimezone(dt.UTC)
        if lname == "tostring" and args and to_str(args[0]) in ("o", "O"):
            return target.isoformat(timespec="microseconds")
        if lname in ("addseconds", "addminutes"):
            unit = "seconds" if lname == "addseconds" else "minutes"
            return target + dt.timedelta(**{unit: float(to_int(args[0]))})
    if isinstance(target, Hashtable):
        if lname == "containskey":
            return to_str(args[0]) in target
        if lname == "add":
            if to_str(args[0]) in target:
                raise runtime_error(f"Item has already been added. Key in dictionary: '{to_str(args[0])}'")
            target[to_str(args[0])] = args[1]
            return None
        if lname == "remove":
            target.pop(to_str(args[0]), None)
            return None
    if isinstance(target, list) and lname == "contains":
        return any(x == args[0] for x in target)
    raise NotSupportedError(f"the method {name}() on {type(target).__name__}")


def call_static(t: TypeRef, name: str, args: list[Any]) -> Any:
    key = (t.name, name.lower())
    if key == ("System.Guid", "newguid"):
        return uuid.uuid4()
    if key == ("System.Guid", "parse"):
        return to_guid(to_str(args[0]))
    if key == ("System.String", "isnullorempty"):
        return args[0] is None or to_str(args[0]) == ""
    if key == ("System.String", "isnullorwhitespace"):
        return args[0] is None or to_str(args[0]).strip() == ""
    if key == ("System.String", "join"):
        items = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:]
        return to_str(args[0]).join(to_str(x) for x in items)
    if key == ("System.Math", "round"):
        digits = to_int(args[1]) if len(args) > 1 else 0
        return round(float(args[0]), digits) if digits else round(float(args[0]))
    if key in (("System.Math", "max"), ("System.Math", "min")):
        return (max if name.lower() == "max" else min)(args[0], args[1])
    if key == ("System.DateTime", "utcnow"):
        return dt.datetime.now(dt.UTC)
    if key == ("System.DateTime", "now"):
        return dt.datetime.now(dt.UTC).astimezone()
    raise NotSupportedError(f"[{t.name}]::{name}")


def static_property(t: TypeRef, name: str) -> Any:
    if t.name == "System.DateTime" and name.lower() in ("utcnow", "now"):
        return call_static(t, name, [])
    if t.name == "System.Guid" and name.lower() == "empty":
        return uuid.UUID(int=0)
    raise NotSupportedError(f"[{t.name}]::{name}")


