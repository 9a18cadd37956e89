"""Cmdlet signatures and parameter binding with PowerShell's error messages, so that bad calls fail as they would."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from herder_dev.scvmm_sim.ps.errors import PSError
from herder_dev.scvmm_sim.ps.members import to_guid, to_int
from herder_dev.scvmm_sim.ps.values import Hashtable, PSObject, ScriptBlock, to_str, type_name

if TYPE_CHECKING:
    from herder_dev.scvmm_sim.ps.interp import Interpreter


class ConversionError(Exception):
    """Raised by a converter; the binder wraps it into PowerShell's ParameterBindingException text."""


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Param:
    name: str
    type_name: str = "System.String"
    convert: Converter = field(default=lambda v: v, compare=False)
    mandatory: bool = False
    position: int | None = None
    pipeline: bool = False
    switch: bool = False
    aliases: tuple[str, ...] = ()  # exact alternative names, as [Alias()] gives them


@dataclass
class Invocation:
    interp: Interpreter
    name: str
    args: dict[str, Any]
    input: list[Any]

    def has(self, name: str) -> bool:
        return name in self.args

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


Handler = Callable[[Invocation], list[Any]]


@dataclass(frozen=True)
class Cmdlet:
    name: str
    params: tuple[Param, ...]
    handler: Handler
    # Builtins such as ForEach-Object see the whole input; others run once per piped object.
    whole_input: bool = False
    exclusive: tuple[tuple[str, ...], ...] = ()
    # Parameter sets told apart by a mandatory parameter each: one of each group must be bound.
    one_of: tuple[tuple[str, ...], ...] = ()
    module: str | None = None  # loading a module makes 5.1 write a progress record


def _fail(cmd: str, message: str, error_id: str, category: str = "InvalidArgument") -> PSError:
    return PSError(
        message, error_id=f"{error_id},{cmd}", category=category,
        exception="System.Management.Automation.ParameterBindingException", command=cmd,
    )


# ---- converters -----------------------------------------------------------------------------------

def string(value: Any) -> str:
    if isinstance(value, list | Hashtable | ScriptBlock):
        raise ConversionError(f"Cannot convert '{type_name(value)}' to the type 'System.String' required by "
                              "parameter '{param}'. Specified method is not supported.")
    return to_str(value)


def integer(value: Any) -> int:
    if isinstance(value, list | Hashtable | PSObject | ScriptBlock):
        raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" '
                              'to type "{type}".')
    try:
        return to_int(value)
    except PSError:
        raise ConversionError(f'Cannot convert value "{to_str(value)}" to type "{{type}}". Error: '
                              '"Input string was not in a correct format."') from None


def byte(value: Any) -> int:
    number = integer(value)
    if not 0 <= number <= 255:
        raise ConversionError(f'Cannot convert value "{number}" to type "System.Byte". Error: "Value was either '
                              'too large or too small for an unsigned byte."')
    return number


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    raise ConversionError(f'Cannot convert value "{type_name(value)}" to type "System.Boolean". Boolean '
                          "parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.")


def guid(value: Any) -> uuid.UUID:
    try:
        return to_guid(value)
    except PSError:
        raise ConversionError(f'Cannot convert value "{to_str(value)}" to type "System.Guid". Error: "Guid '
                              'should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."'
                              ) from None


def script_block(value: Any) -> ScriptBlock:
    if not isinstance(value, ScriptBlock):
        raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" to '
                              'type "System.Management.Automation.ScriptBlock".')
    return value


def of_type(*type_names: str) -> Converter:
    """Objects the simulator made, such as a VMM VM: identified by their type name."""

    def convert(value: Any) -> PSObject:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, PSObject) and value.type_name in type_names:
            return value
        raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" to '
                              f'type "{type_names[0]}".')

    return convert


def list_of(item: Converter) -> Converter:
    def convert(value: Any) -> list[Any]:
        return [item(v) for v in (value if isinstance(value, list) else [value])]

    return convert


def enum(type_full_name: str, *names: str) -> Converter:
    def convert(value: Any) -> str:
        text = to_str(value)
        for n in names:
            if n.lower() == text.lower():
                return n
        raise ConversionError(f'Cannot convert value "{text}" to type "{type_full_name}". Error: "Unable to '
                              f'match the identifier name {text} to a valid enumerator name. Specify one of the '
                              f'following enumerator names and try again:\r\n{", ".join(names)}"')

    return convert


ACTION = enum("System.Management.Automation.ActionPreference", "SilentlyContinue", "Stop", "Continue",
              "Inquire", "Ignore", "Suspend")
COMMON = (
    Param("ErrorAction", "System.Management.Automation.ActionPreference", ACTION),
    Param("WarningAction", "System.Management.Automation.ActionPreference", ACTION),
    Param("InformationAction", "System.Management.Automation.ActionPreference", ACTION),
    Param("Verbose", "System.Management.Automation.SwitchParameter", boolean, switch=True),
    Param("Debug", "System.Management.Automation.SwitchParameter", boolean, switch=True),
)


# ---- binding --------------------------------------------------------------------------------------

@dataclass
class Named:
    name: str
    value: Any
    has_value: bool  # -Name:value, or a value that came from splatting


@dataclass
class Positional:
    value: Any


RawArg = Named | Positional


def _resolve(cmd: Cmdlet, given: str) -> Param:
    params = cmd.params + COMMON
    exact = [p for p in params if given.lower() in (p.name.lower(), *(a.lower() for a in p.aliases))]
    if exact:
        return exact[0]
    matches = [p for p in params if p.name.lower().startswith(given.lower())]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = " ".join(f"-{p.name}" for p in matches)
        raise _fail(cmd.name, f"Parameter cannot be processed because the parameter name '{given}' is "
                    f"ambiguous. Possible matches include: {names}.", "AmbiguousParameter")
    raise _fail(cmd.name, f"A parameter cannot be found that matches parameter name '{given}'.",
                "NamedParameterNotFound")


def _convert(cmd: Cmdlet, param: Param, value: Any) -> Any:
    try:
        return param.convert(value)
    except ConversionError as exc:
        text = str(exc).replace("{param}", param.name).replace("{type}", param.type_name)
        raise _fail(cmd.name, f"Cannot bind parameter '{param.name}'. {text}", "CannotConvertArgumentNoMessage"
                    ) from None


def bind(cmd: Cmdlet, raw: list[RawArg]) -> dict[str, Any]:
    """Bind named and positional arguments (not yet pipeline input) to cmd's parameters."""
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    i = 0
    while i < len(raw):
        arg = raw[i]
        i += 1
        if isinstance(arg, Positional):
            positional.append(arg.value)
            continue
        param = _resolve(cmd, arg.name)
        if param.name in bound:
            raise _fail(cmd.name, f"Cannot bind parameter because parameter '{param.name}' is specified more "
                        "than once. To provide multiple values to parameters that can accept multiple values, "
                        "use the array syntax. For example, \"-parameter value1,value2,value3\".",
                        "ParameterAlreadyBound")
        if arg.has_value:
            value = arg.value
        elif param.switch:
            value = True
        elif i < len(raw) and isinstance(raw[i], Positional):
            value = raw[i].value
            i += 1
        else:
            raise _fail(cmd.name, f"Missing an argument for parameter '{param.name}'. Specify a parameter of "
                        f"type '{param.type_name}' and try again.", "MissingArgument")
        bound[param.name] = _convert(cmd, param, value)
    slots = sorted((p for p in cmd.params if p.position is not None and p.name not in bound),
                   key=lambda p: p.position or 0)
    for value in positional:
        if not slots:
            raise _fail(cmd.name, f"A positional parameter cannot be found that accepts argument "
                        f"'{to_str(value)}'.", "PositionalParameterNotFound")
        param = slots.pop(0)
        bound[param.name] = _convert(cmd, param, value)
    for group in cmd.exclusive:
        if sum(1 for name in group if name in bound) > 1:
            raise _fail(cmd.name, "Parameter set cannot be resolved using the specified named parameters.",
                        "AmbiguousParameterSet")
    return bound


def bind_input(cmd: Cmdlet, bound: dict[str, Any], item: Any) -> dict[str, Any]:
    """Bind one piped object to the parameter that takes pipeline input."""
    target = next((p for p in cmd.params if p.pipeline and p.name not in bound), None)
    if target is None:
        raise _fail(cmd.name, "The input object cannot be bound to any parameters for the command either "
                    "because the command does not take pipeline input or the input and its properties do not "
                    "match any of the parameters that take pipeline input.", "InputObjectNotBound")
    return {**bound, target.name: _convert(cmd, target, item)}


def check_mandatory(cmd: Cmdlet, bound: dict[str, Any]) -> None:
    missing = [p.name for p in cmd.params if p.mandatory and p.name not in bound]
    if missing:
        raise _fail(cmd.name, "Cannot process command because of one or more missing mandatory parameters: "
                    f"{' '.join(missing)}.", "MissingMandatoryParameter")
    if any(not any(name in bound for name in group) for group in cmd.one_of):
        raise _fail(cmd.name, "Parameter set cannot be resolved using the specified named parameters.",
                    "AmbiguousParameterSet")
