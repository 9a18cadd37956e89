"""The seeded library and network fabric: library servers and shares, logical networks, VM networks with their
VLAN subnets, and static IP address pools, turned from seed entries into inventory records."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

Record = dict[str, Any]

DEFAULT_FABRIC: dict[str, Any] = {
    "library_servers": [{"name": "vmm01.herder.test", "shares": ["MSSCVMMLibrary"]}],
    "logical_networks": [{"name": "Herder-LN", "sites": [{"subnet": "10.30.0.0/24", "vlan": 100},
                                                         {"subnet": "10.31.0.0/24", "vlan": 200}]}],
    "vm_networks": [{"name": "Herder-VMNet", "logical_network": "Herder-LN",
                     "subnets": [{"name": "Herder-VMNet_0", "subnet": "10.30.0.0/24", "vlan": 100}]},
                    {"name": "Herder-Backup", "logical_network": "Herder-LN",
                     "subnets": [{"name": "Herder-Backup_0", "subnet": "10.31.0.0/24", "vlan": 200}]}],
    "ip_pools": [{"name": "Herder-Pool", "logical_network": "Herder-LN", "subnet": "10.30.0.0/24",
                  "range": ["10.30.0.10", "10.30.0.20"], "gateway": "10.30.0.1", "dns_servers": ["10.30.0.2"],
                  "dns_suffix": "herder.test"}],
}


def _id() -> str:
    return str(uuid.uuid4())


def _by_name(records: list[Record], name: str, what: str) -> Record:
    found = next((r for r in records if r["name"] == name), None)
    if found is None:
        raise ValueError(f"unknown {what} {name}")
    return found


def library(seed: dict[str, Any]) -> dict[str, Any]:
    servers, shares = [], []
    for entry in seed.get("library_servers", []):
        server = {"id": _id(), "name": entry["name"], "description": ""}
        servers.append(server)
        shares += [{"id": _id(), "name": s, "server": server["id"], "description": ""} for s in entry["shares"]]
    return {"library_servers": servers, "library_shares": shares, "vhds": [], "run_as_accounts": []}


def networks(seed: dict[str, Any]) -> dict[str, Any]:
    logical = [{"id": _id(), "name": ln["name"], "description": ln.get("description", ""),
                "sites": [{"subnet": str(ipaddress.ip_network(s["subnet"])), "vlan": int(s.get("vlan", 0))}
                          for s in ln.get("sites", [])]} for ln in seed.get("logical_networks", [])]
    vm_networks, subnets = [], []
    for vmn in seed.get("vm_networks", []):
        ln = _by_name(logical, vmn["logical_network"], "logical network")
        net = {"id": _id(), "name": vmn["name"], "logical_network": ln["id"], "description": ""}
        vm_networks.append(net)
        for sub in vmn.get("subnets", []):
            cidr = str(ipaddress.ip_network(sub["subnet"]))
            if not any(site["subnet"] == cidr and site["vlan"] == int(sub.get("vlan", 0)) for site in ln["sites"]):
                raise ValueError(f"VM subnet {sub['name']}: {cidr} VLAN {sub.get('vlan', 0)} is not a site of "
                                 f"{ln['name']}")
            subnets.append({"id": _id(), "name": sub["name"], "vm_network": net["id"], "subnet": cidr,
                            "vlan": int(sub.get("vlan", 0))})
    pools = []
    for pool in seed.get("ip_pools", []):
        ln = _by_name(logical, pool["logical_network"], "logical network")
        network = ipaddress.IPv4Network(pool["subnet"])  # the simulator's pools are IPv4
        start, end = (ipaddress.IPv4Address(a) for a in pool["range"])
        if start not in network or end not in network or start > end:
            raise ValueError(f"IP pool {pool['name']}: {start}-{end} is not a range within {network}")
        pools.append({"id": _id(), "name": pool["name"], "logical_network": ln["id"], "subnet": str(network),
                      "start": str(start), "end": str(end), "gateway": pool.get("gateway"),
                      "dns_servers": list(pool.get("dns_servers", [])), "dns_suffix": pool.get("dns_suffix", ""),
                      "description": ""})
    return {"logical_networks": logical, "vm_networks": vm_networks, "vm_subnets": subnets, "ip_pools": pools,
            "ip_addresses": [], "nic_job_groups": {}}
