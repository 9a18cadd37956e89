"""What each backend cannot carry for a server's guest setup and NICs, as rules on plain values. Pure.

The ECS planner asks them before anything is made, so the operator and `herder plan` refuse alike (NotSupported,
naming the field); each provider asks them again before it writes, as a guard on what it is handed. A backend is
named by its provider kind (`VCenter`, `SCVMM`), which a placement's type tells.
"""

from __future__ import annotations

from collections.abc import Sequence

from herder.providers.types import NICSpec, ObservedVM, Placement, VCenterPlacement, VMChange

VCENTER = "VCenter"
SCVMM = "SCVMM"


def backend_of(placement: Placement) -> str:
    return VCENTER if isinstance(placement, VCenterPlacement) else SCVMM


def guest_refusal(backend: str, *, user_data: bool, sysprep: bool, ssh_keys: int) -> str | None:
    """Why `backend` cannot give a guest these first-boot settings; None when it can. VMM's guest OS profile
    carries a computer name, one SSH key, a DNS domain and Windows settings, and nothing else."""
    if backend != SCVMM:
        return None
    if user_data:
        return ("spec.guest.userData: SCVMM cannot pass cloud-init user data to a guest (VMM's guest OS profile "
                "carries a computer name, one SSH key, a DNS domain and an administrator password); bake it into the "
                "template, or use a vCenter zone")
    if sysprep:
        return ("spec.guest.sysprep: on SCVMM a whole unattend.xml is an answer file in the library (-AnswerFile), "
                "which herder does not manage; use spec.guest.windows instead")
    if ssh_keys > 1:
        return ("spec.guest.sshAuthorizedKeys: VMM's Linux guest OS profile carries one SSH key "
                f"(-LinuxAdministratorSSHKeyString); {ssh_keys} are given")
    return None


def _vlan(index: int | None, nic: NICSpec) -> str | None:
    if nic.vlan is None:
        return None
    where = f"spec.networks[{index}]" if index is not None else "spec.networks"
    return (f"{where}.vlan: on vCenter the port group fixes the VLAN; name the port group of VLAN {nic.vlan} as the "
            "network instead")


def nics_refusal(backend: str, nics: Sequence[NICSpec], *, first: int = 0, added: bool = False) -> str | None:
    """Why `backend` cannot make these NICs, the first of them at position `first`: at the create, or `added` to an
    existing server; None when it can."""
    for index, nic in enumerate(nics, start=first):
        if backend == VCENTER:
            why = _vlan(index, nic)
            if why is None and nic.static and added:
                why = (f"spec.networks[{index}]: vCenter gives a static address through the guest's customization at "
                       "the clone only; a NIC added later uses DHCP (or re-create the server)")
            if why is None and nic.static and not nic.address:
                why = (f"spec.networks[{index}]: vCenter has no IP address pools; give ipv4.address for a static "
                       "address")
        else:
            why = (f"spec.networks[{index}].ipv4.address: SCVMM gives a chosen address only to the first NIC (through "
                   "the VM configuration); other NICs get the next free address of their VM subnet's static IP pool: "
                   "leave ipv4.address unset") if index > 0 and nic.address else None
        if why is not None:
            return why
    return None


def change_refusal(backend: str, change: VMChange, vm: ObservedVM) -> str | None:
    """Why `backend` cannot make the NIC part of `change` on `vm`; None when it can."""
    added = nics_refusal(backend, change.add_nics, first=len(vm.nics) - len(change.remove_nics), added=True)
    if added is not None or backend != VCENTER:
        return added
    return next((why for _, nic in change.change_nics if (why := _vlan(None, nic)) is not None), None)
