"""VM configurations (Get-SCVMConfiguration, Remove-SCVMConfiguration) and the network adapter configuration one
holds for its template's adapter: where it connects (a VM subnet), its static address (from a pool, or a given
one) and its MAC address, set with Set-SCVirtualNetworkAdapterConfiguration, allocated by Update-SCVMConfiguration
(so an exhausted pool or a taken address fails before any VM exists), and handed to the VM New-SCVirtualMachine
makes from the configuration. Remove-SCVMConfiguration gives the addresses back."""

from __future__ import annotations

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, boolean, guid, of_type, string
from herder_dev.scvmm_sim.ps.values import Props, PSObject
from herder_dev.scvmm_sim.vmm import network_views as nv
from herder_dev.scvmm_sim.vmm import views
from herder_dev.scvmm_sim.vmm.cmdlets import GUID, Outcome, Vmm, _obj, _switch
from herder_dev.scvmm_sim.vmm.errors import NOT_FOUND, vmm_error
from herder_dev.scvmm_sim.vmm.networks import NO_POOL, Networks, _mac
from herder_dev.scvmm_sim.vmm.state import Record, new_id

ADAPTER_CONFIG = views.NS + "VirtualNetworkAdapterConfiguration"


class ConfigAdapters:
    def __init__(self, vmm: Vmm, networks: Networks) -> None:
        self.vmm = vmm
        self.store = vmm.store
        self.networks = networks

    @staticmethod
    def new() -> list[Record]:
        """A configuration's adapter configurations: one for the adapter every template gives its VMs."""
        return [{"id": new_id(), "slot": 0, "vm_subnet": None, "pool": None, "address": None, "mac": None}]

    def _target(self, inv: Invocation) -> tuple[Record, Record]:
        obj: PSObject = inv.get("VirtualNetworkAdapterConfiguration")
        for cfg in self.store.all("configs"):
            for adapter in cfg.get("adapters", []):
                if adapter["id"] == str(obj.props["ID"]):
                    return cfg, adapter
        raise vmm_error(NOT_FOUND, f"VMM cannot find the virtual network adapter configuration {obj.props['ID']}.")

    def view(self, adapter: Record) -> PSObject:
        subnet = self.store.find("vm_subnets", adapter["vm_subnet"] or "")
        net = self.store.find("vm_networks", subnet["vm_network"]) if subnet else None
        pool = self.store.find("ip_pools", adapter["pool"] or "")
        held = [a["address"] for a in self.store.all("ip_addresses") if a["assigned_to"] == adapter["id"]]
        return PSObject(ADAPTER_CONFIG, Props({
            "ID": views._guid(adapter["id"]), "SlotID": adapter["slot"],
            "VMNetwork": nv.vm_network(self.store, net) if net else None,
            "VMSubnet": nv.vm_subnet(self.store, subnet) if subnet else None,
            "IPv4AddressType": "Static" if adapter["pool"] or adapter["address"] else "Dynamic",
            "IPv4Address": held[0] if held else adapter["address"], "PinIPv4AddressPool": bool(adapter["pool"]),
            "IPv4AddressPool": nv.ip_pool(self.store, pool) if pool else None, "MACAddress": adapter["mac"] or "",
        }), display=f"Adapter {adapter['slot']}")

    def get(self, inv: Invocation) -> Outcome:
        cfg = self.vmm._config(inv)
        return Outcome(lambda: [self.view(a) for a in cfg.get("adapters", [])])

    def set(self, inv: Invocation) -> Outcome:
        _, adapter = self._target(inv)
        subnet = self.vmm._ref(inv, "VMSubnet", "vm_subnets", "VM subnet")
        if subnet is not None:
            adapter["vm_subnet"] = subnet["id"]
        pool = self.vmm._ref(inv, "IPv4AddressPool", "ip_pools", "static IP address pool")
        if pool is not None:
            adapter["pool"] = pool["id"]
        if inv.has("IPv4Address"):
            adapter["address"] = inv.get("IPv4Address") or None
        if inv.has("MACAddress"):
            adapter["mac"] = _mac(inv.get("MACAddress")) if inv.get("MACAddress") else None
        return Outcome(lambda: [self.view(adapter)])

    def allocate(self, cfg: Record) -> None:
        """Update-SCVMConfiguration: the static addresses its adapter configurations ask for, all or none."""
        self.release(cfg)
        try:
            for adapter in cfg.get("adapters", []):
                if not (adapter["pool"] or adapter["address"]):
                    continue
                pools = [self.store.get("ip_pools", adapter["pool"], "static IP address pool")] if adapter["pool"] \
                    else self.networks.subnet_pools(adapter["vm_subnet"])
                if not pools:
                    raise vmm_error(NO_POOL, "The virtual network adapter configuration has a static IPv4 address, but "
                                             "its VM subnet has no static IP address pool to allocate from.")
                self.networks.allocate(pools, adapter["id"], "VirtualNetworkAdapter", adapter["address"],
                                       description="", auto=True)
        except Exception:
            self.release(cfg)
            raise

    def release(self, cfg: Record) -> None:
        for adapter in cfg.get("adapters", []):
            self.networks.release(adapter["id"])

    def apply(self, cfg: Record, nic: Record) -> Record:
        """The VM's first adapter as its configuration says, with the addresses allocated for it."""
        adapter = (cfg.get("adapters") or [None])[0]
        if adapter is None:
            return nic
        subnet = self.store.find("vm_subnets", adapter["vm_subnet"] or "")
        if subnet is not None:
            nic |= {"vm_network": subnet["vm_network"], "vm_subnet": subnet["id"], "vlan_enabled": bool(subnet["vlan"]),
                    "vlan_id": subnet["vlan"]}
        if adapter["mac"]:
            nic |= {"mac": adapter["mac"], "mac_type": "Static"}
        held = [a for a in self.store.all("ip_addresses") if a["assigned_to"] == adapter["id"]]
        if held:
            for record in held:
                record["assigned_to"] = nic["id"]
            nic |= {"ipv4_type": "Static", "ipv4": [a["address"] for a in held],
                    "pools": sorted({a["pool"] for a in held})}
        return nic

    def get_config(self, inv: Invocation) -> Outcome:
        configs = self.vmm._select("configs", inv)
        return Outcome(lambda: [views.config(self.store, c) for c in configs])

    def remove_config(self, inv: Invocation) -> Outcome:
        cfg = self.vmm._config(inv)
        self.release(cfg)
        self.store.data["configs"].remove(cfg)
        return Outcome(lambda: [])

    def held_by_configs(self) -> set[str]:
        """The adapter configurations that may hold addresses: those of configurations that still exist."""
        return {a["id"] for cfg in self.store.all("configs") for a in cfg.get("adapters", [])}

    def cmdlets(self) -> list[Cmdlet]:
        c = self.vmm._cmdlet
        config_param = _obj("VMConfiguration", views.CONFIG, mandatory=True, pipeline=True)
        adapter = Param("VirtualNetworkAdapterConfiguration", ADAPTER_CONFIG, of_type(ADAPTER_CONFIG),
                        mandatory=True, pipeline=True)
        flag = "System.Boolean"
        return [
            c("Get-SCVirtualNetworkAdapterConfiguration", (config_param,), self.get),
            c("Set-SCVirtualNetworkAdapterConfiguration", (
                adapter, _obj("VMSubnet", nv.VM_SUBNET), _obj("IPv4AddressPool", nv.IP_POOL),
                Param("IPv4Address", convert=string), Param("MACAddress", convert=string),
                Param("PinIPv4AddressPool", flag, boolean), Param("PinMACAddressPool", flag, boolean),
                Param("PinIPv6AddressPool", flag, boolean), _switch("RunAsynchronously"),
            ), self.set),
            c("Get-SCVMConfiguration", (Param("Name", convert=string), Param("ID", GUID, guid), _switch("All")),
              self.get_config, exclusive=(("All", "Name", "ID"),)),
            c("Remove-SCVMConfiguration", (config_param, _switch("RunAsynchronously")), self.remove_config),
        ]
