"""VMM networking: logical networks, VM networks with their VLAN subnets, static IP address pools and the
addresses granted from them, and the network adapters of VMs (including the hot add and remove rule)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    Invocation,
    Param,
    boolean,
    enum,
    guid,
    integer,
    list_of,
    of_type,
    string,
)
from herder_dev.scvmm_sim.ps.errors import PSError
from herder_dev.scvmm_sim.ps.values import PSObject
from herder_dev.scvmm_sim.vmm import network_views as nv
from herder_dev.scvmm_sim.vmm import views
from herder_dev.scvmm_sim.vmm.cmdlets import ASYNC, GUID, Outcome, Vmm, _obj, _switch
from herder_dev.scvmm_sim.vmm.errors import INVALID_STATE, NOT_FOUND, vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store, new_id

# Error IDs the VMM reference does not document; see docs/scvmm.md ("Error IDs").
POOL_EXHAUSTED = 21432
ADDRESS_IN_USE = 21433
ADDRESS_NOT_IN_POOL = 21434
NO_POOL = 21435
VLAN_NOT_IN_NETWORK = 21436
BAD_MAC = 21437
ADDRESS_TYPES = enum("Microsoft.VirtualManager.Remoting.EthernetAddressType", "Dynamic", "Static")
OBJECT_TYPES = enum("Microsoft.VirtualManager.Utils.AllocatedToObjectType", "VirtualNetworkAdapter", "VIP",
                    "HostNetworkAdapter", "LoadBalancerConfiguration", "VirtualMachine", "HostCluster", "VMSubnet",
                    "NetworkService", "NATConnection", "NetworkGateway", "StorageArray", "VMNetworkGateway", "None")
_MAC = re.compile(r"^[0-9A-F]{2}([-:]?)(?:[0-9A-F]{2}\1){4}[0-9A-F]{2}$", re.IGNORECASE)
_MAC_PREFIX = "00:1D:D8:B7"
# The parameters after which an adapter's static addresses are allocated anew.
_READDRESS = {"IPv4AddressType", "IPv4Addresses", "IPv4AddressPools", "VMNetwork", "VMSubnet", "VLanID",
              "NoConnection"}  # VMM's default MAC address pool starts at 00:1D:D8:B7:1C:00


class Networks:
    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.store = vmm.store
        self.store.handlers["nic_change"] = (self._finish_change, self._fail_change)

    # ---- lookups ---------------------------------------------------------------------------------
    def _named(self, kind: str, inv: Invocation) -> list[Record]:
        return self.vmm._select(kind, inv)

    def _ref(self, inv: Invocation, param: str, kind: str, what: str) -> Record | None:
        return self.vmm._ref(inv, param, kind, what)

    def get_logical_network(self, inv: Invocation) -> Outcome:
        networks = self._named("logical_networks", inv)
        return Outcome(lambda: [nv.logical_network(n) for n in networks])

    def get_vm_network(self, inv: Invocation) -> Outcome:
        networks = self._named("vm_networks", inv)
        ln = self._ref(inv, "LogicalNetwork", "logical_networks", "logical network")
        if ln is not None:
            networks = [n for n in networks if n["logical_network"] == ln["id"]]
        return Outcome(lambda: [nv.vm_network(self.store, n) for n in networks])

    def get_vm_subnet(self, inv: Invocation) -> Outcome:
        subnets = self._named("vm_subnets", inv)
        net = self._ref(inv, "VMNetwork", "vm_networks", "VM network")
        if net is not None:
            subnets = [s for s in subnets if s["vm_network"] == net["id"]]
        return Outcome(lambda: [nv.vm_subnet(self.store, s) for s in subnets])

    def get_pool(self, inv: Invocation) -> Outcome:
        self._purge()
        pools = self._named("ip_pools", inv)
        if inv.has("Subnet"):
            cidr = str(ipaddress.ip_network(inv.get("Subnet"), strict=False))
            pools = [p for p in pools if p["subnet"] == cidr]
        if inv.has("IPAddress"):
            pools = [p for p in pools if _in_range(p, inv.get("IPAddress"))]
        if inv.get("IPv6"):
            pools = []  # the simulator's pools are all IPv4
        if inv.has("VMSubnet"):
            self._ref(inv, "VMSubnet", "vm_subnets", "VM subnet")
            pools = []  # pools belong to logical network sites here, not to VM subnets (network virtualization)
        return Outcome(lambda: [nv.ip_pool(self.store, p) for p in pools])

    # ---- IP addresses ----------------------------------------------------------------------------
    def _purge(self) -> None:
        """Addresses VMM gave an adapter go back to their pool when the adapter (or its VM, or the VM configuration
        that holds them for a VM to be made) is gone."""
        nics = {n["id"] for vm in self.store.all("vms") for n in vm["nics"]}
        queued = {n["id"] for group in self.store.data["nic_job_groups"].values() for n in group}
        configured = {a["id"] for cfg in self.store.all("configs") for a in cfg.get("adapters", [])}
        self.store.data["ip_addresses"] = [a for a in self.store.all("ip_addresses")
                                           if not a["auto"] or a["assigned_to"] in nics | queued | configured]

    def allocate(self, pools: list[Record], assigned_to: str | None, assigned_type: str, address: str | None, *,
                 description: str, auto: bool) -> Record:
        self._purge()
        taken = {a["address"] for a in self.store.all("ip_addresses")}
        if address is not None:
            pool = next((p for p in pools if _in_range(p, address)), None)
            if pool is None:
                raise vmm_error(ADDRESS_NOT_IN_POOL, f"The IP address {address} is not in the range of the IP "
                                                     f"address pool {', '.join(p['name'] for p in pools)}.")
            if address in taken:
                raise vmm_error(ADDRESS_IN_USE, f"The IP address {address} has already been allocated from the IP "
                                                f"address pool {pool['name']}.")
        else:
            free = ((p, str(a)) for p in pools for a in _addresses(p) if str(a) not in taken)
            pool, address = next(free, (None, None))
            if pool is None or address is None:
                raise vmm_error(POOL_EXHAUSTED, f"The IP address pool {', '.join(p['name'] for p in pools)} has no "
                                                "available IP addresses.")
        record = {"id": new_id(), "address": address, "pool": pool["id"], "assigned_to": assigned_to,
                  "assigned_type": assigned_type, "description": description, "auto": auto}
        self.store.data["ip_addresses"].append(record)
        return record

    def grant(self, inv: Invocation) -> Outcome:
        pool = self._ref(inv, "StaticIPAddressPool", "ip_pools", "static IP address pool")
        assert pool is not None  # mandatory
        target = str(inv.get("GrantToObjectID")) if inv.has("GrantToObjectID") else None
        record = self.allocate([pool], target, inv.get("GrantToObjectType"), inv.get("IPAddress"),
                               description=inv.get("Description", ""), auto=False)
        return Outcome(lambda: [nv.allocated_ip(self.store, record)])

    def revoke(self, inv: Invocation) -> Outcome:
        obj: PSObject = inv.get("AllocatedIPAddress")
        record = self.store.get("ip_addresses", str(obj.props["ID"]), "allocated IP address")
        self.store.data["ip_addresses"].remove(record)
        for vm in self.store.all("vms"):
            for nic in vm["nics"]:
                if record["address"] in nic["ipv4"] and nic.get("ipv4_type") == "Static":
                    nic["ipv4"].remove(record["address"])
        return Outcome(lambda: [nv.allocated_ip(self.store, record)])

    def get_ip(self, inv: Invocation) -> Outcome:
        self._purge()
        addresses = self.store.all("ip_addresses")
        pool = self._ref(inv, "StaticIPAddressPool", "ip_pools", "static IP address pool")
        if pool is not None:
            addresses = [a for a in addresses if a["pool"] == pool["id"]]
        if inv.has("ID"):
            addresses = [a for a in addresses if a["id"] == str(inv.get("ID"))]
        if inv.has("GrantToObjectID"):
            addresses = [a for a in addresses if a["assigned_to"] == str(inv.get("GrantToObjectID"))]
        if inv.has("IPAddress"):
            addresses = [a for a in addresses if a["address"] == inv.get("IPAddress")]
        if inv.get("Assigned"):
            addresses = [a for a in addresses if a["assigned_to"]]
        if inv.get("UnAssigned"):
            addresses = [a for a in addresses if not a["assigned_to"]]
        return Outcome(lambda: [nv.allocated_ip(self.store, a) for a in addresses])

    # ---- network adapters ------------------------------------------------------------------------
    def _nic_target(self, inv: Invocation) -> tuple[Record, Record]:
        obj: PSObject = inv.get("VirtualNetworkAdapter")
        vm = self.store.get("vms", str(obj.props["VMId"]), "virtual machine")
        nic = next((n for n in vm["nics"] if n["id"] == str(obj.props["ID"])), None)
        if nic is None:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the virtual network adapter object with ID "
                                       f"{obj.props['ID']}.")
        return vm, nic

    def _configure(self, nic: Record, inv: Invocation, generation: int) -> Record:
        """nic with the invocation's settings applied, static addresses allocated; the store's addresses change."""
        nic = {**nic, "ipv4": list(nic.get("ipv4", [])), "pools": list(nic.get("pools", []))}
        if inv.has("MACAddressType") or inv.has("MACAddress"):
            nic["mac_type"] = inv.get("MACAddressType", "Static" if inv.has("MACAddress") else nic["mac_type"])
            nic["mac"] = _mac(inv.get("MACAddress")) if nic["mac_type"] == "Static" and inv.has("MACAddress") \
                else nic["mac"]
        if inv.get("NoConnection"):
            nic.update({"vm_network": None, "vm_subnet": None, "vlan_enabled": False, "vlan_id": 0})
        self._connect(nic, inv)
        if inv.has("IPv4AddressType"):
            nic["ipv4_type"] = inv.get("IPv4AddressType")
        if inv.args.keys() & _READDRESS:
            self._readdress(nic, inv)
        nic["synthetic"] = generation == 2 or bool(inv.get("Synthetic", nic.get("synthetic", False)))
        return nic

    def _connect(self, nic: Record, inv: Invocation) -> None:
        net = self._ref(inv, "VMNetwork", "vm_networks", "VM network")
        subnet = self._ref(inv, "VMSubnet", "vm_subnets", "VM subnet")
        if net is not None or subnet is not None:
            net = net or self.store.get("vm_networks", subnet["vm_network"] if subnet else "", "VM network")
            subnets = [s for s in self.store.all("vm_subnets") if s["vm_network"] == net["id"]]
            subnet = subnet or (subnets[0] if subnets else None)
            if subnet is not None and subnet["vm_network"] != net["id"]:
                raise vmm_error(NOT_FOUND, f"The VM subnet {subnet['name']} is not part of VM network {net['name']}.")
            nic.update({"vm_network": net["id"], "vm_subnet": subnet["id"] if subnet else None,
                        "vlan_enabled": bool(subnet and subnet["vlan"]), "vlan_id": subnet["vlan"] if subnet else 0})
        if inv.has("VLanEnabled"):
            nic["vlan_enabled"] = inv.get("VLanEnabled")
        if inv.has("VLanID"):
            nic["vlan_id"] = inv.get("VLanID")
        if nic["vlan_enabled"] and nic["vm_network"]:
            vlans = {s["vlan"]: s for s in self.store.all("vm_subnets") if s["vm_network"] == nic["vm_network"]}
            if nic["vlan_id"] not in vlans:
                net_name = self.store.get("vm_networks", nic["vm_network"], "VM network")["name"]
                raise vmm_error(VLAN_NOT_IN_NETWORK, f"VLAN {nic['vlan_id']} is not available in VM network "
                                                     f"{net_name} (VLANs {', '.join(map(str, sorted(vlans)))}).")
            nic["vm_subnet"] = vlans[nic["vlan_id"]]["id"]

    def _readdress(self, nic: Record, inv: Invocation) -> None:
        """Give back what VMM allocated to the adapter and allocate anew; all or nothing."""
        held = [a for a in self.store.all("ip_addresses") if a["auto"] and a["assigned_to"] == nic["id"]]
        self.release(nic["id"])
        nic["ipv4"], nic["pools"] = [], []
        if nic["ipv4_type"] != "Static":
            return
        try:
            self._assign_static(nic, inv)
        except PSError:
            self.release(nic["id"])
            self.store.data["ip_addresses"].extend(held)
            raise

    def _assign_static(self, nic: Record, inv: Invocation) -> None:
        pools = [self.store.get("ip_pools", str(p.props["ID"]), "static IP address pool")
                 for p in inv.get("IPv4AddressPools", [])] or self._subnet_pools(nic)
        if not pools:
            raise vmm_error(NO_POOL, "The virtual network adapter has a static IPv4 address type, but its VM subnet "
                                     "has no static IP address pool to allocate from.")
        for address in inv.get("IPv4Addresses") or [None]:
            nic["ipv4"].append(self.allocate(pools, nic["id"], "VirtualNetworkAdapter", address, description="",
                                             auto=True)["address"])
        nic["pools"] = [p["id"] for p in pools]

    def _subnet_pools(self, nic: Record) -> list[Record]:
        return self.subnet_pools(nic.get("vm_subnet"))

    def subnet_pools(self, subnet_id: str | None) -> list[Record]:
        """The static IP pools of a VM subnet: its logical network's pools for the subnet's range."""
        subnet = self.store.find("vm_subnets", subnet_id or "")
        net = self.store.find("vm_networks", subnet["vm_network"]) if subnet else None
        if subnet is None or net is None:
            return []
        return [p for p in self.store.all("ip_pools")
                if p["logical_network"] == net["logical_network"] and p["subnet"] == subnet["subnet"]]

    def release(self, nic_id: str) -> None:
        self.store.data["ip_addresses"] = [a for a in self.store.all("ip_addresses")
                                           if not (a["auto"] and a["assigned_to"] == nic_id)]

    def _new_nic(self, inv: Invocation, taken: set[str], generation: int) -> Record:
        nic: Record = {"id": new_id(), "mac": _next_mac(taken), "mac_type": "Dynamic", "vm_network": None,
               "vm_subnet": None, "vlan_enabled": False, "vlan_id": 0, "ipv4_type": "Dynamic", "ipv4": [],
               "pools": [], "synthetic": False}
        return self._configure(nic, inv, generation)

    def next_mac(self) -> str:
        """A MAC address from VMM's default pool that no adapter has."""
        return _next_mac(self._macs())

    def _macs(self) -> set[str]:
        queued = [n for group in self.store.data["nic_job_groups"].values() for n in group]
        return {n["mac"] for vm in self.store.all("vms") for n in vm["nics"]} | {n["mac"] for n in queued}

    @staticmethod
    def _hot_plug_allowed(vm: Record) -> bool:
        """Hyper-V adds and removes network adapters of a running VM only for generation 2 VMs."""
        return bool(vm["status"] == "PowerOff" or (vm["status"] == "Running" and vm["generation"] == 2))

    def new_adapter(self, inv: Invocation) -> Outcome:
        if not inv.has("VM"):
            # Queued for New-SCVirtualMachine -JobGroup; VMM makes it when the VM is made (generation unknown yet).
            nic = self._new_nic(inv, self._macs(), generation=0)
            self.store.data["nic_job_groups"].setdefault(str(inv.get("JobGroup")), []).append(nic)
            return Outcome(lambda: [])
        vm = self.vmm._idle_vm(inv)
        if not self._hot_plug_allowed(vm):
            raise vmm_error(INVALID_STATE, f"A network adapter can be added to {vm['name']} (generation "
                                           f"{vm['generation']}) only while it is stopped.")
        nic = self._new_nic(inv, self._macs(), vm["generation"])
        nic["slot"] = max((n.get("slot", 0) for n in vm["nics"]), default=-1) + 1
        outcome = self.vmm._vm_job(inv, vm, "Create virtual network adapter", "UnderUpdate",
                                   {"kind": "nic_change", "add": nic})
        return Outcome(lambda: self._nic_out(vm["id"], nic["id"]), outcome.job)

    def set_adapter(self, inv: Invocation) -> Outcome:
        vm, nic = self._nic_target(inv)
        self.store.ensure_idle(vm["id"], vm["name"])
        if vm["status"] != "PowerOff" and inv.has("MACAddress"):
            raise vmm_error(INVALID_STATE, f"The MAC address of a network adapter of {vm['name']} can change only "
                                           "while the virtual machine is stopped.")
        changed = self._configure(nic, inv, vm["generation"])
        outcome = self.vmm._vm_job(inv, vm, "Change properties of virtual network adapter", "UnderUpdate",
                                   {"kind": "nic_change", "update": changed})
        return Outcome(lambda: self._nic_out(vm["id"], nic["id"]), outcome.job)

    def remove_adapter(self, inv: Invocation) -> Outcome:
        vm, nic = self._nic_target(inv)
        self.store.ensure_idle(vm["id"], vm["name"])
        if not self._hot_plug_allowed(vm):
            raise vmm_error(INVALID_STATE, f"A network adapter can be removed from {vm['name']} (generation "
                                           f"{vm['generation']}) only while it is stopped.")
        outcome = self.vmm._vm_job(inv, vm, "Remove virtual network adapter", "UnderUpdate",
                                   {"kind": "nic_change", "remove": nic["id"]})
        return Outcome(lambda: [], outcome.job)

    def get_adapter(self, inv: Invocation) -> Outcome:
        if inv.has("VM"):
            vm = self.vmm._vm(inv)
            pairs = [(vm, n) for n in vm["nics"]]
        else:
            pairs = [(vm, n) for vm in self.store.all("vms") for n in vm["nics"]]
            if inv.has("ID"):
                pairs = [(vm, n) for vm, n in pairs if n["id"] == str(inv.get("ID"))]
        return Outcome(lambda: [nv.adapter(self.store, vm, n) for vm, n in pairs])

    def _nic_out(self, vm_id: str, nic_id: str) -> list[Any]:
        vm = self.store.find("vms", vm_id)
        return [nv.adapter(self.store, vm, n) for n in vm["nics"] if n["id"] == nic_id] if vm else []

    def _finish_change(self, store: Store, effect: Record) -> None:
        vm = store.find("vms", effect["vm"])
        if vm is None:
            return
        if "add" in effect:
            vm["nics"].append(effect["add"])
        if "update" in effect:
            vm["nics"] = [effect["update"] if n["id"] == effect["update"]["id"] else n for n in vm["nics"]]
        if "remove" in effect:
            vm["nics"] = [n for n in vm["nics"] if n["id"] != effect["remove"]]
        vm["status"] = effect["prev"]
        self._purge()

    def _fail_change(self, store: Store, effect: Record) -> None:
        vm = store.find("vms", effect["vm"])
        if vm is not None:
            vm["status"] = effect["prev"]
        nic = effect.get("add") or effect.get("update")
        if nic is not None:
            self.release(nic["id"])

    def job_group_adapters(self, group: str, generation: int) -> list[Record]:
        """The adapters queued with New-SCVirtualNetworkAdapter -JobGroup, for the VM New-SCVirtualMachine makes."""
        nics: list[Record] = self.store.data["nic_job_groups"].pop(group, [])
        for slot, nic in enumerate(nics, start=1):
            nic.update({"slot": slot, "synthetic": generation == 2 or nic["synthetic"]})
        return nics

    # ---- the table -------------------------------------------------------------------------------
    def cmdlets(self) -> list[Cmdlet]:
        c = self.vmm._cmdlet
        name = Param("Name", convert=string, position=0)
        ident = Param("ID", GUID, guid)
        vnic = Param("VirtualNetworkAdapter", nv.ADAPTER, of_type(nv.ADAPTER), mandatory=True, position=0,
                     pipeline=True)
        pool = _obj("StaticIPAddressPool", nv.IP_POOL)
        connection = (
            _obj("VMNetwork", nv.VM_NETWORK), _obj("VMSubnet", nv.VM_SUBNET),
            Param("VLanEnabled", "System.Boolean", boolean), Param("VLanID", "System.UInt16", integer),
            Param("MACAddress", convert=string, aliases=("EthernetAddress", "PhysicalAddress")),
            Param("MACAddressType", convert=enum("System.String", "Dynamic", "Static"),
                  aliases=("EthernetAddressType", "PhysicalAddressType")),
            Param("IPv4AddressType", "Microsoft.VirtualManager.Remoting.EthernetAddressType", ADDRESS_TYPES),
            _switch("NoConnection"),
        )
        return [
            c("Get-SCLogicalNetwork", (name, ident), self.get_logical_network),
            c("Get-SCVMNetwork", (name, ident, _obj("LogicalNetwork", nv.LOGICAL_NETWORK)), self.get_vm_network),
            c("Get-SCVMSubnet", (name, ident, _obj("VMNetwork", nv.VM_NETWORK)), self.get_vm_subnet),
            c("Get-SCStaticIPAddressPool", (name, ident, Param("Subnet", convert=string),
                                            Param("IPAddress", convert=string), _switch("IPv4"), _switch("IPv6"),
                                            _obj("VMSubnet", nv.VM_SUBNET)), self.get_pool,
              exclusive=(("ID", "VMSubnet"),)),
            c("Grant-SCIPAddress", (
                _obj("StaticIPAddressPool", nv.IP_POOL, mandatory=True),
                Param("GrantToObjectType", "Microsoft.VirtualManager.Utils.AllocatedToObjectType", OBJECT_TYPES,
                      mandatory=True),
                Param("IPAddress", convert=string), Param("GrantToObjectID", GUID, guid),
                Param("Description", convert=string), _switch("RunAsynchronously"),
            ), self.grant),
            c("Revoke-SCIPAddress", (Param("AllocatedIPAddress", nv.ALLOCATED_IP, of_type(nv.ALLOCATED_IP),
                                           mandatory=True, position=0, pipeline=True),
                                     Param("ReturnToPool", "System.Boolean", boolean), _switch("RunAsynchronously")),
              self.revoke),
            c("Get-SCIPAddress", (_switch("All"), pool, Param("ID", GUID, guid), Param("GrantToObjectID", GUID, guid),
                                  Param("IPAddress", convert=string), _switch("Assigned"), _switch("UnAssigned")),
              self.get_ip, exclusive=(("All", "StaticIPAddressPool", "ID", "GrantToObjectID", "IPAddress"),)),
            c("New-SCVirtualNetworkAdapter", (
                _obj("VM", views.VM, pipeline=True), Param("JobGroup", GUID, guid), *connection,
                _switch("Synthetic"), _switch("RunAsynchronously"),
            ), self.new_adapter, exclusive=(("VM", "JobGroup"),)),
            c("Set-SCVirtualNetworkAdapter", (
                vnic, *connection,
                Param("IPv4Addresses", "System.Collections.Generic.List`1[System.String]", list_of(string),
                      aliases=("IPv4Address",)),
                Param("IPv4AddressPools", "System.Collections.Generic.List`1[" + nv.IP_POOL + "]",
                      list_of(of_type(nv.IP_POOL)), aliases=("IPv4AddressPool",)),
                *ASYNC,
            ), self.set_adapter),
            c("Remove-SCVirtualNetworkAdapter", (vnic, *ASYNC), self.remove_adapter),
            c("Get-SCVirtualNetworkAdapter", (_obj("VM", views.VM, pipeline=True), _switch("All"), ident),
              self.get_adapter, exclusive=(("VM", "All", "ID"),)),
        ]


def _addresses(pool: Record) -> Any:
    start, end = ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])
    return (start + i for i in range(int(end) - int(start) + 1))


def _in_range(pool: Record, address: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return ipaddress.IPv4Address(pool["start"]) <= ip <= ipaddress.IPv4Address(pool["end"])


def _mac(text: str) -> str:
    if not _MAC.match(text):
        raise vmm_error(BAD_MAC, f"The MAC address {text} is not valid. Specify six pairs of hexadecimal digits, "
                                 "such as 00-15-5D-B4-DC-00.")
    digits = re.sub(r"[-:]", "", text).upper()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _next_mac(taken: set[str]) -> str:
    for index in range(0x1C00, 0x10000):
        mac = f"{_MAC_PREFIX}:{index >> 8:02X}:{index & 0xFF:02X}"
        if mac not in taken:
            return mac
    raise vmm_error(POOL_EXHAUSTED, "The MAC address pool has no available addresses.")

