"""VMM objects as PowerShell sees them: property names and shapes from the VMM cmdlet reference."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from herder_dev.scvmm_sim.ps.values import Hashtable, Props, PSEnum, PSObject
from herder_dev.scvmm_sim.vmm.state import Record, Store

NS = "Microsoft.SystemCenter.VirtualMachineManager."
VM = NS + "VM"
TEMPLATE = NS + "Template"
HOST_GROUP = NS + "HostGroup"
HOST = NS + "Host"
CLOUD = NS + "Cloud"
JOB = NS + "Task"
DISK = NS + "VirtualDiskDrive"
CHECKPOINT = NS + "VMCheckpoint"
CUSTOM_PROPERTY = NS + "CustomProperty"
CONFIG = NS + "VMConfiguration"
SERVER = NS + "Remoting.ServerConnection"

# VMComputerSystemState; 5.1's ConvertTo-Json writes the number, so a driver must send [string] itself.
VM_STATES = {
    "Running": 0, "PowerOff": 1, "PoweringOff": 2, "Saved": 3, "Saving": 4, "Restoring": 5, "Paused": 6,
    "Starting": 11, "Deleting": 13, "UnderCreation": 100, "CreationFailed": 101, "UnderUpdate": 106,
    "UpdateFailed": 107, "Missing": 220, "Stopping": 2, "Pausing": 81,
    "UnderMigration": 108,  # its number is not documented
}
JOB_STATES = {"Running": 1, "Completed": 2, "Failed": 3, "Canceled": 4}
# The values of Hyper-V's CheckpointType enum; VMM's own numbering is not documented.
CHECKPOINT_TYPE = "Microsoft.VirtualManager.Utils.CheckpointType"
CHECKPOINT_TYPES = {"Disabled": 2, "Production": 3, "ProductionOnly": 4, "Standard": 5}
STATUS_TEXT = {"PowerOff": "Stopped", "UnderCreation": "Under Creation", "CreationFailed": "Creation Failed",
               "UnderUpdate": "Under Update", "UpdateFailed": "Update Failed", "UnderMigration": "Under Migration"}


def _guid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def _time(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, dt.UTC) if epoch is not None else None


def _obj(type_name: str, display: str, props: dict[str, Any]) -> PSObject:
    return PSObject(type_name, Props(props), display=display)


def host_group(store: Store, g: Record) -> PSObject:
    children = [c for c in store.all("host_groups") if c["parent"] == g["path"]]
    return _obj(HOST_GROUP, g["name"], {
        "ID": _guid(g["id"]), "Name": g["name"], "Path": g["path"], "IsRoot": g["parent"] is None,
        "ParentHostGroup": g["parent"].rsplit("\\", 1)[-1] if g["parent"] else None,
        "ChildHostGroups": [c["name"] for c in children],
        "Hosts": [h["name"] for h in store.all("hosts") if h["host_group"] == g["path"]],
        "Clouds": [c["name"] for c in store.all("clouds") if g["path"] in c["host_groups"]],
    })


def used_memory_mb(store: Store, host_id: str) -> int:
    return sum(v["memory_mb"] for v in store.all("vms") if v["host"] == host_id and v["status"] == "Running")


def host(store: Store, h: Record) -> PSObject:
    free = h["memory_mb"] - used_memory_mb(store, h["id"])
    return _obj(HOST, h["name"], {
        "ID": _guid(h["id"]), "Name": h["name"], "FQDN": h["name"], "ComputerName": h["name"].split(".")[0],
        "OverallState": "MaintenanceMode" if h.get("maintenance") else "OK", "CommunicationState": "Responding",
        "LogicalCPUCount": h["cpu_count"], "TotalMemory": h["memory_mb"] * 1024 * 1024, "AvailableMemory": free,
        "AvailableForPlacement": h.get("available_for_placement", True), "Description": h.get("description", ""),
        "VMHostGroup": h["host_group"].rsplit("\\", 1)[-1], "VMPaths": ["C:\\ClusterStorage\\Volume1"],
    })


def cloud(store: Store, c: Record) -> PSObject:
    return _obj(CLOUD, c["name"], {
        "ID": _guid(c["id"]), "Name": c["name"], "Description": c.get("description", ""),
        "HostGroup": [p.rsplit("\\", 1)[-1] for p in c["host_groups"]],
    })


def template(store: Store, t: Record) -> PSObject:
    from herder_dev.scvmm_sim.vmm.library_views import template_extras  # it builds on this module

    return _obj(TEMPLATE, t["name"], {
        "ID": _guid(t["id"]), "Name": t["name"], "CPUCount": t["cpu_count"], "Memory": t["memory_mb"],
        "Generation": t["generation"], "OperatingSystem": t["os"], "Status": "Normal",
        "DynamicMemoryEnabled": False, "CustomProperty": Hashtable(t.get("custom", {})),
        **template_extras(store, t),
    })


def job(store: Store, j: Record) -> PSObject:
    running = j["status"] == "Running"
    total = max(j["ends"] - j["started"], 1e-6)
    pct = 100 if not running else min(99, int((time.time() - j["started"]) / total * 100))
    error = j["error"] or {"code": 0, "problem": ""}
    info = _obj(NS + "ErrorInfo", error["problem"], {
        "Code": error["code"], "DisplayableErrorCode": error["code"], "Problem": error["problem"],
        "RecommendedAction": "Resolve the issue, and then try the operation again." if error["code"] else "",
    })
    return _obj(JOB, j["name"], {
        "ID": _guid(j["id"]), "Name": j["name"], "CmdletName": j["cmdlet"],
        "Status": PSEnum(NS + "TaskStatusEnum", j["status"], JOB_STATES[j["status"]]),
        "StatusString": j["status"], "Progress": f"{pct} %", "ProgressValue": pct,
        "IsCompleted": not running, "IsRestartable": j["status"] == "Failed", "ErrorInfo": info,
        "StartTime": _time(j["started"]), "EndTime": _time(j["ended"]), "ResultName": j["target_name"],
        "ResultObjectID": _guid(j["target"]) if j["target"] else None,
    })


def vm_location(v: Record) -> str:
    """The folder of the VM's files: as placed (VMLocation) or moved (Move-SCVirtualMachine -Path)."""
    return str(v.get("location") or f"C:\\ClusterStorage\\Volume1\\{v['name']}")


def disk(vm: Record, d: Record) -> PSObject:
    vhd = _obj(NS + "VirtualHardDisk", d["file"], {
        "ID": _guid(d["vhd_id"]), "Name": d["file"], "Location": f"{vm_location(vm)}\\{d['file']}",
        "MaximumSize": d["size_mb"] * 1024 * 1024, "Size": d["size_mb"] * 1024 * 1024 // 8,
        "VHDType": "DynamicallyExpanding" if d["dynamic"] else "FixedSize", "VHDFormatType": "VHDX",
    })
    return _obj(DISK, d["file"], {
        "ID": _guid(d["id"]), "Name": d["file"], "BusType": d["bus_type"], "Bus": d["bus"], "Lun": d["lun"],
        "VirtualHardDisk": vhd, "VolumeType": "BootAndSystem" if d.get("boot") else "None",
        "VMId": vm["id"], "VM": vm["name"],
    })


def checkpoint(vm: Record, c: Record) -> PSObject:
    """Properties of the VMCheckPoint entity (SPF/VMM reference); Enabled is always true here."""
    return _obj(CHECKPOINT, c["name"], {
        "ID": _guid(c["id"]), "CheckpointID": _guid(c["checkpoint_id"]), "Name": c["name"],
        "Description": c["description"], "AddedTime": _time(c["added"]),
        "ModifiedTime": _time(c.get("modified", c["added"])), "Enabled": True,
        "ParentCheckpointID": _guid(c["parent"]) if c.get("parent") else None,
        "VM": vm["name"], "VMId": vm["id"],
    })


def vm(store: Store, v: Record) -> PSObject:
    from herder_dev.scvmm_sim.vmm.network_views import adapter  # it builds on this module

    h = store.find("hosts", v["host"]) if v["host"] else None
    c = store.find("clouds", v["cloud"]) if v["cloud"] else None
    recent = store.find("jobs", v["most_recent_job"]) if v["most_recent_job"] else None
    status = v["status"]
    checkpoint_type = v.get("checkpoint_type", "Production")
    return _obj(VM, v["name"], {
        "ID": _guid(v["id"]), "VMId": v["vm_id"], "Name": v["name"], "BiosGuid": _guid(v["bios_guid"]),
        "Description": v["description"], "ComputerName": v["computer_name"],
        "Status": PSEnum(NS + "VMComputerSystemState", status, VM_STATES[status]),
        "StatusString": STATUS_TEXT.get(status, status),
        "VirtualMachineState": PSEnum(NS + "VMComputerSystemState", status, VM_STATES[status]),
        "HostGroupPath": v["host_group"], "VMHost": host(store, h) if h else None,
        "HostName": h["name"] if h else None, "Cloud": cloud(store, c) if c else None,
        "CPUCount": v["cpu_count"], "Memory": v["memory_mb"], "DynamicMemoryEnabled": v["dynamic_memory"],
        "DynamicMemoryMinimumMB": v["dynamic_min_mb"], "DynamicMemoryMaximumMB": v["dynamic_max_mb"],
        "Generation": v["generation"], "Tag": v["tag"], "OperatingSystem": v["os"],
        "CustomProperty": Hashtable(v["custom"]),
        "MostRecentTask": job(store, recent) if recent else None,
        "MostRecentTaskIfLocal": job(store, recent) if recent else None,
        "VirtualDiskDrives": [disk(v, d) for d in v["disks"]],
        "VirtualNetworkAdapters": [adapter(store, v, n) for n in v["nics"]],
        "VMCheckpoints": [checkpoint(v, cp) for cp in v["checkpoints"]],
        "CreationTime": _time(v["created"]), "Location": vm_location(v),
        "CheckpointType": PSEnum(CHECKPOINT_TYPE, checkpoint_type, CHECKPOINT_TYPES[checkpoint_type]),
    })


def custom_property(p: Record) -> PSObject:
    return _obj(CUSTOM_PROPERTY, p["name"], {
        "ID": _guid(p["id"]), "Name": p["name"], "Description": p["description"], "Members": list(p["members"]),
    })


def config(store: Store, c: Record) -> PSObject:
    t = store.find("templates", c["template"])
    h = store.find("hosts", c["host"]) if c["host"] else None
    return _obj(CONFIG, c["name"], {
        "ID": _guid(c["id"]), "Name": c["name"], "VMTemplate": t["name"] if t else None,
        "VMHostGroup": c["host_group"], "VMHost": host(store, h) if h else None,
        "IsHostPlaced": h is not None, "VMLocation": c["location"], "Cloud": c["cloud"],
    })


def server(name: str) -> PSObject:
    return _obj(SERVER, name, {
        "Name": name, "FQDN": name, "Port": 8100, "ProductVersion": "10.22.1287.0", "IsConnected": True,
        "UserRole": "Administrator",
    })
