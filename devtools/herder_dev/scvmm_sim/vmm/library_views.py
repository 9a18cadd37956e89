"""Library objects as PowerShell sees them: library servers and shares, virtual hard disks, and what a library
template adds to the template view (its disks and guest OS profile)."""

from __future__ import annotations

from typing import Any

from herder_dev.scvmm_sim.ps.values import Hashtable, PSObject
from herder_dev.scvmm_sim.vmm import views
from herder_dev.scvmm_sim.vmm.guest import run_as_account
from herder_dev.scvmm_sim.vmm.shares import Shares
from herder_dev.scvmm_sim.vmm.state import Record, Store

LIBRARY_SERVER = views.NS + "LibraryServer"
LIBRARY_SHARE = views.NS + "LibraryShare"
VIRTUAL_HARD_DISK = views.NS + "VirtualHardDisk"
_GUEST = {"ComputerName": "computer_name", "FullName": "full_name", "OrganizationName": "organization_name",
          "ProductKey": "product_key", "TimeZone": "time_zone", "Domain": "domain", "Workgroup": "workgroup",
          "GuiRunOnceCommands": "gui_run_once_commands", "LinuxDomainName": "linux_domain_name"}


def library_server(store: Store, s: Record) -> PSObject:
    return views._obj(LIBRARY_SERVER, s["name"], {
        "ID": views._guid(s["id"]), "Name": s["name"], "FQDN": s["name"], "ComputerName": s["name"].split(".")[0],
        "Description": s["description"], "Status": "Responding",
        "LibraryShares": [sh["name"] for sh in store.all("library_shares") if sh["server"] == s["id"]],
    })


def library_share(store: Store, sh: Record) -> PSObject:
    shares = Shares(store)
    return views._obj(LIBRARY_SHARE, sh["name"], {
        "ID": views._guid(sh["id"]), "Name": sh["name"], "Path": shares.unc(sh), "Description": sh["description"],
        "LibraryServer": library_server(store, shares.server(sh)),
    })


def vhd(store: Store, v: Record) -> PSObject:
    shares = Shares(store)
    share = store.get("library_shares", v["share"], "library share")
    location = shares.unc(share, v["relative"])
    return views._obj(VIRTUAL_HARD_DISK, v["name"], {
        "ID": views._guid(v["id"]), "Name": v["name"], "Description": v["description"], "Location": location,
        "SharePath": location, "Directory": location.rsplit("\\", 1)[0], "HostName": shares.server(share)["name"],
        "LibraryServer": library_server(store, shares.server(share)), "LibraryShareId": views._guid(share["id"]),
        "Size": v["size"], "MaximumSize": v["maximum_size"], "VHDType": v["vhd_type"],
        "VHDFormatType": v["format"], "OperatingSystem": v["os"], "FamilyName": v["family_name"],
        "Release": v["release"], "State": "Normal", "Enabled": True, "VirtualizationPlatform": "HyperV",
        "ObjectType": "VirtualHardDisk", "ParentDisk": None, "CustomProperty": Hashtable(v.get("custom", {})),
        "AddedTime": views._time(v["added"]), "ModifiedTime": views._time(v["modified"]),
    })


def template_extras(store: Store, t: Record) -> dict[str, Any]:
    """What a template shows beyond the seeded hardware: its library disks and guest OS profile."""
    guest = t.get("guest", {})
    disks = [t["vhd"], *(d["vhd"] for d in t.get("data_vhds", []))] if t.get("vhd") else []
    extras: dict[str, Any] = {api: guest.get(key) for api, key in _GUEST.items()}
    admin = guest.get("local_administrator") or {}
    account = store.find("run_as_accounts", admin.get("run_as_account") or "")
    extras.update({
        "Description": t.get("description", ""),
        "VirtualHardDisks": [vhd(store, v) for v in (store.find("vhds", i) for i in disks) if v is not None],
        "LocalAdministratorCredential": run_as_account(account) if account else None,
    })
    return extras
