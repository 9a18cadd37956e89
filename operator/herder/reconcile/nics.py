"""An ECS's NICs: spec.networks turned into NICSpecs, and what it takes to make a VM's NICs match them. Pure.

NICs are matched by position (the first is the template's adapter): a NIC on another network or VLAN, or with
another MAC address, is changed in place; missing ones are added at the end, surplus ones removed from the end.
Addressing is part of a NIC's making (the guest's first-boot customization, an SCVMM pool allocation), so a NIC's
addressing is not changed afterwards.
"""

from __future__ import annotations

from dataclasses import replace

from herder.api.ecs import Addressing, NetworkInterface
from herder.errors import Unresolvable
from herder.providers.types import AddressPool, NICSpec, ObservedNIC, ObservedVM, VMChange
from herder.reasons import Reason


def normal_mac(mac: str | None) -> str | None:
    return mac.replace("-", ":").upper() if mac else None


def nic_specs(interfaces: list[NetworkInterface] | None, default: str | None,
              allowed: list[str] | None) -> tuple[NICSpec, ...]:
    """The NICs `spec.networks` asks for, on the zone's `default` network where it names none. Raises
    Unresolvable(NetworkNotAllowed) for a network outside the zone's `allowed` ones (None: any)."""
    nics: list[NICSpec] = []
    for index, nic in enumerate(interfaces or ()):
        network = nic.network or default
        if not network:
            raise Unresolvable(Reason.ZONE_INVALID, f"spec.networks[{index}] names no network and the zone has no "
                               "default network")
        if allowed is not None and network.lower() not in {name.lower() for name in allowed}:
            raise Unresolvable(Reason.NETWORK_NOT_ALLOWED,
                               f"spec.networks[{index}]: network {network!r} is not one the zone allows "
                               f"(spec.allowedNetworks: {', '.join(allowed) or 'none'})")
        ipv4 = nic.ipv4
        nics.append(NICSpec(network=network, vlan=nic.vlan, mac=normal_mac(nic.mac_address),
                            static=nic.addressing is Addressing.STATIC, address=ipv4.address if ipv4 else None,
                            gateway=ipv4.gateway if ipv4 else None,
                            dns=tuple(ipv4.dns_servers or ()) if ipv4 else ()))
    return tuple(nics)


def _differs(wanted: NICSpec, nic: ObservedNIC) -> bool:
    return ((nic.network or "").lower() != wanted.network.lower()
            or (wanted.vlan is not None and wanted.vlan != nic.vlan)
            or (wanted.mac is not None and wanted.mac != normal_mac(nic.mac)))


def nic_change(wanted: tuple[NICSpec, ...], observed: ObservedVM) -> VMChange:
    """The NIC part of the change that makes the VM's NICs match `wanted` (nothing when spec.networks is unset)."""
    if not wanted or not observed.disks_known:
        return VMChange()
    have = observed.nics
    changed = tuple((nic.key, spec) for spec, nic in zip(wanted, have, strict=False) if _differs(spec, nic))
    return VMChange(add_nics=wanted[len(have):], change_nics=changed,
                    remove_nics=tuple(nic.key for nic in have[len(wanted):]))


def needs_stop(change: VMChange, observed: ObservedVM) -> bool:
    """Whether the NIC part of `change` needs the VM off: a NIC added or removed where that is not hot, or a MAC
    address changed where that is not hot."""
    plugs = bool(change.add_nics or change.remove_nics) and not observed.nic_hot_plug
    current = {nic.key: nic for nic in observed.nics}
    macs = any(spec.mac is not None and spec.mac != normal_mac(current[key].mac)
               for key, spec in change.change_nics if key in current)
    return plugs or (macs and not observed.mac_hot_change)


def hot_part(change: VMChange, observed: ObservedVM) -> VMChange:
    """The NIC part of `change` that can be made while the VM runs."""
    current = {nic.key: nic for nic in observed.nics}
    keep_macs = observed.mac_hot_change
    changes = tuple((key, spec if keep_macs else replace(spec, mac=normal_mac(current[key].mac)))
                    for key, spec in change.change_nics if key in current)
    changes = tuple((key, spec) for key, spec in changes if _differs(spec, current[key]))
    plug = observed.nic_hot_plug
    return VMChange(add_nics=change.add_nics if plug else (), change_nics=changes,
                    remove_nics=change.remove_nics if plug else ())


def address_refusal(nics: tuple[NICSpec, ...], pools: tuple[AddressPool | None, ...]) -> str | None:
    """Why the static NICs cannot all get an address at the create, from their pools as they stand (`pools`, one per
    NIC): a given address already granted, or a pool with fewer free addresses than its NICs take; None when they
    can. (Another create may still take the last address first: the backend then refuses, with the same reason.)"""
    taken: dict[str, int] = {}
    for index, (nic, pool) in enumerate(zip(nics, pools, strict=False)):
        if not nic.static or pool is None:
            continue
        address = nic.address.split("/")[0] if nic.address else None
        if address in pool.granted:
            return f"spec.networks[{index}].ipv4.address: {address} is already granted from static IP pool {pool.name}"
        taken[pool.name] = taken.get(pool.name, 0) + 1
        if taken[pool.name] > pool.available:
            return (f"spec.networks[{index}]: static IP pool {pool.name} has no available IP addresses left for it "
                    f"({pool.available} free)")
    return None
