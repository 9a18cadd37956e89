"""SecureString and PSCredential: how scripts hand a password to VMM without it ever being printable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, boolean, list_of, string
from herder_dev.scvmm_sim.ps.errors import NotSupportedError, PSError, cmdlet_error
from herder_dev.scvmm_sim.ps.values import Hashtable, Props, PSObject, to_str

SECURE_STRING = "System.Security.SecureString"
PS_CREDENTIAL = "System.Management.Automation.PSCredential"
SWITCH = "System.Management.Automation.SwitchParameter"
_CREDENTIAL_NAMES = {"system.management.automation.pscredential", "pscredential"}
_OBJECT_NAMES = {"psobject", "system.management.automation.psobject", "pscustomobject"}


@dataclass
class SecureString(PSObject):
    """Shows only its Length, as a .NET SecureString does; the text stays with the simulator."""

    secret: str = field(default="", repr=False)

    @classmethod
    def of(cls, text: str) -> SecureString:
        return cls(SECURE_STRING, Props({"Length": len(text)}), display=SECURE_STRING, secret=text)


def credential(user: str, password: SecureString) -> PSObject:
    return PSObject(PS_CREDENTIAL, Props({"UserName": user, "Password": password}), display=PS_CREDENTIAL)


def credential_parts(value: PSObject) -> tuple[str, str]:
    """The user name and password a PSCredential carries."""
    password = value.props["Password"]
    return to_str(value.props["UserName"]), password.secret if isinstance(password, SecureString) else ""


def _convert_to_secure_string(inv: Invocation) -> list[Any]:
    if not inv.get("AsPlainText"):
        raise NotSupportedError("ConvertTo-SecureString of an encrypted standard string")
    if not inv.get("Force"):
        raise cmdlet_error("The system cannot protect plain text input. To suppress this warning and convert the "
                           "plain text to a SecureString, reissue the command specifying the Force parameter. For "
                           "more information ,type: get-help ConvertTo-SecureString.",
                           "ImportSecureString_InvalidArgument,"
                           "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand",
                           "InvalidArgument", "System.ArgumentException")
    return [SecureString.of(inv.get("String"))]


def _new_credential(args: list[Any]) -> PSObject:
    if len(args) != 2:
        raise PSError(f'Cannot find an overload for "PSCredential" and the argument count: "{len(args)}".',
                      error_id="ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand",
                      category="InvalidOperation", exception="System.Management.Automation.MethodException")
    user, password = args
    if not isinstance(password, SecureString):
        raise PSError(f'Cannot convert argument "password", with value: "{to_str(password)}", for "PSCredential" '
                      f'to type "{SECURE_STRING}": "Cannot convert the "{to_str(password)}" value of type '
                      f'"System.String" to type "{SECURE_STRING}"."',
                      error_id="ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand",
                      category="InvalidOperation", exception="System.Management.Automation.MethodException")
    return credential(to_str(user), password)


def _new_object(inv: Invocation) -> list[Any]:
    type_name = inv.get("TypeName").lower()
    if type_name in _CREDENTIAL_NAMES:
        return [_new_credential(inv.get("ArgumentList", []))]
    if type_name in _OBJECT_NAMES and not inv.has("ArgumentList"):
        props: Hashtable = inv.get("Property") or Hashtable()
        return [PSObject.custom(dict(props.items()))]
    raise NotSupportedError(f"New-Object {inv.get('TypeName')}")


def _hashtable(value: Any) -> Hashtable:
    if not isinstance(value, Hashtable):
        raise NotSupportedError("New-Object -Property with anything but a hashtable")
    return value


def cmdlets() -> list[Cmdlet]:
    return [
        Cmdlet("ConvertTo-SecureString", (
            Param("String", mandatory=True, position=0, pipeline=True, convert=string),
            Param("AsPlainText", SWITCH, boolean, switch=True), Param("Force", SWITCH, boolean, switch=True),
        ), _convert_to_secure_string),
        Cmdlet("New-Object", (
            Param("TypeName", mandatory=True, position=0, convert=string),
            Param("ArgumentList", "System.Object[]", list_of(lambda v: v), position=1, aliases=("Args",)),
            Param("Property", "System.Collections.IDictionary", _hashtable),
        ), _new_object),
    ]
