"""Guest OS customization: the guest OS profile parameters of New-SCVirtualMachine and New-SCVMTemplate, and the
Run As accounts their credentials can name. What a VM received is kept on its record (GET /admin/state shows
it); cmdlet output never carries a password."""

from __future__ import annotations

import time
from typing import Any

from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    ConversionError,
    Invocation,
    Param,
    boolean,
    guid,
    integer,
    list_of,
    string,
)
from herder_dev.scvmm_sim.ps.secrets import PS_CREDENTIAL, credential_parts
from herder_dev.scvmm_sim.ps.values import Props, PSObject, to_str, type_name
from herder_dev.scvmm_sim.vmm import views
from herder_dev.scvmm_sim.vmm.cmdlets import GUID, Outcome, Vmm, _switch
from herder_dev.scvmm_sim.vmm.errors import vmm_error
from herder_dev.scvmm_sim.vmm.operating_systems import os_type
from herder_dev.scvmm_sim.vmm.state import Record, new_id

RUN_AS_ACCOUNT = views.NS + "RunAsAccount"
VMM_CREDENTIAL = "Microsoft.SystemCenter.VirtualMachineManager.VMMCredential"
# Error IDs the VMM reference does not document; see docs/scvmm.md ("Error IDs").
NAME_EXISTS = 12703
NOT_CUSTOMIZABLE = 10649


def vmm_credential(value: Any) -> PSObject:
    """A VMMCredential parameter takes a PSCredential or a Run As account."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, PSObject) and value.type_name in (PS_CREDENTIAL, RUN_AS_ACCOUNT):
        return value
    raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" to type '
                          f'"{VMM_CREDENTIAL}".')


# The guest OS profile parameters New-SCVirtualMachine (NewVmFromVmConfig, NewVmFromTemplate) and New-SCVMTemplate
# share, with their documented aliases; ComputerName is declared by each cmdlet itself.
PARAMS = (
    Param("FullName", convert=string),
    Param("OrganizationName", convert=string, aliases=("OrgName",)),
    Param("ProductKey", convert=string),
    Param("TimeZone", "System.Int32", integer),
    Param("LocalAdministratorCredential", VMM_CREDENTIAL, vmm_credential, aliases=("AdminPasswordCredential",)),
    Param("Domain", convert=string, aliases=("JoinDomain",)),
    Param("DomainJoinCredential", VMM_CREDENTIAL, vmm_credential, aliases=("JoinDomainCredential",)),
    Param("Workgroup", convert=string, aliases=("JoinWorkgroup",)),
    Param("GuiRunOnceCommands", "System.String[]", list_of(string)),
    Param("LinuxDomainName", convert=string),
    Param("LinuxAdministratorSSHKeyString", convert=string),
)
# The profile parameters only the template and configuration sets have (a clone keeps its guest as it is).
TEMPLATE_ONLY = tuple(p.name for p in PARAMS if p.name not in ("LinuxDomainName", "LinuxAdministratorSSHKeyString"))
_PLAIN = {"ComputerName": "computer_name", "FullName": "full_name", "OrganizationName": "organization_name",
          "ProductKey": "product_key", "TimeZone": "time_zone", "Domain": "domain", "Workgroup": "workgroup",
          "GuiRunOnceCommands": "gui_run_once_commands", "LinuxDomainName": "linux_domain_name",
          "LinuxAdministratorSSHKeyString": "linux_administrator_ssh_key"}
_CREDENTIALS = {"LocalAdministratorCredential": "local_administrator", "DomainJoinCredential": "domain_join"}


class Guest:
    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.store = vmm.store

    # ---- guest OS settings -----------------------------------------------------------------------
    def settings(self, inv: Invocation) -> Record:
        """The guest OS profile settings an invocation gives, credentials resolved to user and password."""
        given: Record = {key: inv.get(param) for param, key in _PLAIN.items() if inv.has(param)}
        for param, key in _CREDENTIALS.items():
            if inv.has(param):
                given[key] = self._credential(inv.get(param))
        return given

    def _credential(self, value: PSObject) -> Record:
        if value.type_name == PS_CREDENTIAL:
            user, password = credential_parts(value)
            return {"run_as_account": None, "user": user, "password": password}
        account = self.store.get("run_as_accounts", str(value.props["ID"]), "Run As account")
        return {"run_as_account": account["id"], "user": account["user"], "password": account["password"]}

    def for_vm(self, inv: Invocation, template: Record, computer_name: str) -> Record:
        """What a new VM's guest receives: the template's profile, overridden by the invocation's parameters."""
        given = self.settings(inv)
        given.pop("computer_name", None)
        if given and template.get("no_customization"):
            raise vmm_error(NOT_CUSTOMIZABLE, f"The template {template['name']} does not allow guest operating "
                                              f"system customization; remove {', '.join(sorted(given))}.")
        return {**template.get("guest", {}), **given, "computer_name": computer_name,
                "os_type": os_type(template["os"])}

    # ---- Run As accounts -------------------------------------------------------------------------
    def new_run_as_account(self, inv: Invocation) -> Outcome:
        name = inv.get("Name")
        if any(a["name"].lower() == name.lower() for a in self.store.all("run_as_accounts")):
            raise vmm_error(NAME_EXISTS, f"A Run As account named {name} already exists.")
        user, password = credential_parts(inv.get("Credential"))
        account = {"id": new_id(), "name": name, "description": inv.get("Description", ""), "user": user,
                   "password": password, "enabled": True, "added": time.time()}
        self.store.data["run_as_accounts"].append(account)
        return Outcome(lambda: [run_as_account(account)])

    def get_run_as_account(self, inv: Invocation) -> Outcome:
        accounts = self.vmm._select("run_as_accounts", inv)
        if inv.has("IsEnabled"):
            accounts = [a for a in accounts if a["enabled"] == inv.get("IsEnabled")]
        return Outcome(lambda: [run_as_account(a) for a in accounts])

    def remove_run_as_account(self, inv: Invocation) -> Outcome:
        obj: PSObject = inv.get("RunAsAccount")
        account = self.store.get("run_as_accounts", str(obj.props["ID"]), "Run As account")
        self.store.data["run_as_accounts"].remove(account)
        return Outcome(lambda: [])

    def cmdlets(self) -> list[Cmdlet]:
        c = self.vmm._cmdlet
        account = Param("RunAsAccount", RUN_AS_ACCOUNT, _run_as_param, mandatory=True, position=0, pipeline=True)
        return [
            c("New-SCRunAsAccount", (
                Param("Name", convert=string, mandatory=True),
                Param("Credential", PS_CREDENTIAL, _credential_param, mandatory=True),
                Param("Description", convert=string), _switch("NoValidation"), _switch("RunAsynchronously"),
            ), self.new_run_as_account),
            c("Get-SCRunAsAccount", (Param("Name", convert=string, position=0), Param("ID", GUID, guid),
                                     Param("IsEnabled", "System.Boolean", boolean)), self.get_run_as_account),
            c("Remove-SCRunAsAccount", (account, _switch("RunAsynchronously")),
              self.remove_run_as_account),
        ]


def _credential_param(value: Any) -> PSObject:
    converted = vmm_credential(value)
    if converted.type_name != PS_CREDENTIAL:
        raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" to type '
                              f'"{PS_CREDENTIAL}".')
    return converted


def _run_as_param(value: Any) -> PSObject:
    converted = vmm_credential(value)
    if converted.type_name != RUN_AS_ACCOUNT:
        raise ConversionError(f'Cannot convert the "{to_str(value)}" value of type "{type_name(value)}" to type '
                              f'"{RUN_AS_ACCOUNT}".')
    return converted


def run_as_account(a: Record) -> PSObject:
    domain, _, user = a["user"].rpartition("\\")
    return PSObject(RUN_AS_ACCOUNT, Props({
        "Name": a["name"], "ID": views._guid(a["id"]), "Description": a["description"], "UserName": user,
        "Domain": domain, "Enabled": a["enabled"], "AddedTime": views._time(a["added"]),
    }), display=a["name"])
