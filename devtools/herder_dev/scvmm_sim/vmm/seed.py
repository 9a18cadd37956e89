"""The inventory a fresh simulator starts with: built in, or read from a YAML/JSON file of the same shape."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from herder_dev.scvmm_sim.vmm import fabric

DEFAULT_SEED: dict[str, Any] = {
    "server": "vmm01.herder.test",
    "host_groups": ["All Hosts\\Zone-A", "All Hosts\\Zone-B"],
    "hosts": [
        {"name": "hv-a1.herder.test", "host_group": "All Hosts\\Zone-A", "cpu_count": 32, "memory_mb": 262144},
        {"name": "hv-a2.herder.test", "host_group": "All Hosts\\Zone-A", "cpu_count": 32, "memory_mb": 262144},
        {"name": "hv-b1.herder.test", "host_group": "All Hosts\\Zone-B", "cpu_count": 16, "memory_mb": 131072},
        {"name": "hv-b2.herder.test", "host_group": "All Hosts\\Zone-B", "cpu_count": 16, "memory_mb": 131072},
    ],
    "clouds": [
        {"name": "Cloud-Gold", "host_groups": ["All Hosts\\Zone-A", "All Hosts\\Zone-B"]},
        {"name": "Cloud-Dev", "host_groups": ["All Hosts\\Zone-B"]},
    ],
    "templates": [
        {"name": "ubuntu-22.04-tmpl", "os": "Ubuntu Linux 22.04 (64 bit)", "cpu_count": 2, "memory_mb": 2048,
         "generation": 2, "disk_gb": 20},
        {"name": "windows-2022-tmpl", "os": "Windows Server 2022 Datacenter", "cpu_count": 2,
         "memory_mb": 4096, "generation": 2, "disk_gb": 60},
    ],
    **fabric.DEFAULT_FABRIC,
}


def load_seed(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return DEFAULT_SEED
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the seed must be a mapping")
    return data


def _id() -> str:
    return str(uuid.uuid4())


def _parents(path: str) -> list[str]:
    parts = path.split("\\")
    return ["\\".join(parts[: i + 1]) for i in range(len(parts))]


def build_inventory(seed: dict[str, Any]) -> dict[str, Any]:
    """Turn a seed into the persisted inventory shape, with IDs."""
    groups: dict[str, dict[str, Any]] = {}
    for path in ["All Hosts", *seed.get("host_groups", [])]:
        for p in _parents(path):
            if p not in groups:
                parent = p.rsplit("\\", 1)[0] if "\\" in p else None
                groups[p] = {"id": _id(), "name": p.rsplit("\\", 1)[-1], "path": p, "parent": parent}
    hosts = []
    for h in seed.get("hosts", []):
        if h["host_group"] not in groups:
            raise ValueError(f"host {h['name']}: unknown host group {h['host_group']}")
        hosts.append({"id": _id(), "name": h["name"], "host_group": h["host_group"],
                      "cpu_count": int(h["cpu_count"]), "memory_mb": int(h["memory_mb"])})
    clouds = [{"id": _id(), "name": c["name"], "host_groups": list(c["host_groups"])} for c in seed.get("clouds", [])]
    templates = [{"id": _id(), "name": t["name"], "os": t["os"], "cpu_count": int(t["cpu_count"]),
                  "memory_mb": int(t["memory_mb"]), "generation": int(t.get("generation", 2)),
                  "disk_gb": int(t.get("disk_gb", 20))} for t in seed.get("templates", [])]
    return {
        "server": seed.get("server", DEFAULT_SEED["server"]),
        "host_groups": list(groups.values()), "hosts": hosts, "clouds": clouds, "templates": templates,
        "vms": [], "jobs": [], "custom_properties": [], "configs": [], "job_groups": {},
        **fabric.library(seed), **fabric.networks(seed),
    }
