"""Network objects as PowerShell sees them: logical networks, VM networks and their VLAN subnets, static IP
address pools, allocated addresses, and VM network adapters."""

from __future__ import annotations

import ipaddress
from typing import Any

from herder_dev.scvmm_sim.ps.values import PSObject
from herder_dev.scvmm_sim.vmm import views
from herder_dev.scvmm_sim.vmm.state import Record, Store

LOGICAL_NETWORK = views.NS + "LogicalNetwork"
VM_NETWORK = views.NS + "VMNetwork"
VM_SUBNET = views.NS + "VMSubnet"
IP_POOL = views.NS + "StaticIPAddressPool"
ALLOCATED_IP = views.NS + "AllocatedIPAddress"
ADAPTER = views.NS + "VirtualNetworkAdapter"


def logical_network(n: Record) -> PSObject:
    return views._obj(LOGICAL_NETWORK, n["name"], {
        "ID": views._guid(n["id"]), "Name": n["name"], "Description": n["description"],
        "NetworkVirtualizationEnabled": False, "IsPVLAN": False, "LogicalNetworkDefinitionIsolation": True,
    })


def vm_subnet(store: Store, s: Record) -> PSObject:
    net = store.find("vm_networks", s["vm_network"])
    return views._obj(VM_SUBNET, s["name"], {
        "ID": views._guid(s["id"]), "Name": s["name"],
        "VMNetwork": vm_network(store, net, with_subnets=False) if net else None,
        "SubnetVLans": [views._obj(views.NS + "SubnetVLan", f"{s['subnet']}-{s['vlan']}", {
            "Subnet": s["subnet"], "VLanID": s["vlan"], "SecondaryVLanID": 0, "SupportsDHCP": True,
        })],
    })


def vm_network(store: Store, n: Record, with_subnets: bool = True) -> PSObject:
    """A VM network; a subnet's own VMNetwork leaves out the subnets, which would lead back to it."""
    ln = store.find("logical_networks", n["logical_network"])
    subnets = [s for s in store.all("vm_subnets") if s["vm_network"] == n["id"]]
    return views._obj(VM_NETWORK, n["name"], {
        "ID": views._guid(n["id"]), "Name": n["name"], "Description": n["description"],
        "LogicalNetwork": logical_network(ln) if ln else None,
        "IsolationType": "VLANNetwork" if any(s["vlan"] for s in subnets) else "NoIsolation",
        "VMSubnet": [vm_subnet(store, s) for s in subnets] if with_subnets else [],
    })


def pool_size(p: Record) -> int:
    return int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1


def ip_pool(store: Store, p: Record) -> PSObject:
    used = sum(1 for a in store.all("ip_addresses") if a["pool"] == p["id"])
    ln = store.find("logical_networks", p["logical_network"])
    return views._obj(IP_POOL, p["name"], {
        "ID": views._guid(p["id"]), "Name": p["name"], "Description": p["description"], "Subnet": p["subnet"],
        "AddressFamily": "InterNetwork", "IPAddressRangeStart": p["start"], "IPAddressRangeEnd": p["end"],
        "DefaultGateways": [views._obj(views.NS + "DefaultGateway", p["gateway"], {
            "IPAddress": p["gateway"], "Metric": None})] if p["gateway"] else [],
        "DNSServers": list(p["dns_servers"]), "DNSSuffix": p["dns_suffix"], "DNSSearchSuffixes": [],
        "WINSServers": [], "TotalAddresses": pool_size(p), "AvailableAddresses": pool_size(p) - used,
        "LogicalNetworkDefinition": f"{ln['name']}_0" if ln else None, "VMSubnet": None, "IsMulticast": False,
    })


def allocated_ip(store: Store, a: Record) -> PSObject:
    pool = store.find("ip_pools", a["pool"])
    return views._obj(ALLOCATED_IP, a["address"], {
        "ID": views._guid(a["id"]), "Name": a["address"], "Address": a["address"],
        "AllocatingAddressPool": ip_pool(store, pool) if pool else None, "Description": a["description"],
        "AssignedToID": views._guid(a["assigned_to"]) if a["assigned_to"] else None,
        "AssignedToType": a["assigned_type"], "State": "Assigned" if a["assigned_to"] else "Unassigned",
        "AddressFamily": "InterNetwork", "ObjectType": "AllocatedIPAddress",
    })


def adapter(store: Store, vm: Record, n: Record) -> PSObject:
    net = store.find("vm_networks", n.get("vm_network") or "")
    subnet = store.find("vm_subnets", n.get("vm_subnet") or "")
    ln = store.find("logical_networks", net["logical_network"]) if net else None
    props: dict[str, Any] = {
        "ID": views._guid(n["id"]), "Name": vm["name"], "SlotId": n.get("slot", 0), "VMId": vm["id"],
        "MACAddress": n["mac"], "PhysicalAddress": n["mac"], "MACAddressType": n.get("mac_type", "Dynamic"),
        "VirtualNetworkAdapterType": "Synthetic" if n.get("synthetic", True) else "Emulated",
        "VMNetwork": vm_network(store, net) if net else None, "VMSubnet": vm_subnet(store, subnet) if subnet else None,
        "LogicalNetwork": ln["name"] if ln else None, "VLanEnabled": n.get("vlan_enabled", False),
        "VLanID": n.get("vlan_id", 0), "IPv4AddressType": n.get("ipv4_type", "Dynamic"),
        "IPv6AddressType": "Dynamic",
        # The addresses the guest reports through Hyper-V's data exchange, so only while it runs.
        "IPv4Addresses": list(n["ipv4"]) if vm["status"] == "Running" else [], "IPv6Addresses": [],
        "IPv4AddressPools": [p["name"] for p in store.all("ip_pools") if p["id"] in n.get("pools", [])],
    }
    return views._obj(ADAPTER, n["mac"], props)
