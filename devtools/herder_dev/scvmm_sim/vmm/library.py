"""The VMM library: library servers and shares (real directories), the virtual hard disks a share refresh
discovers in them, and library VM templates made from a VHD, from another template, or from a VM (which VMM
generalizes and destroys)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, byte, guid, integer, of_type, string
from herder_dev.scvmm_sim.ps.errors import NotSupportedError
from herder_dev.scvmm_sim.ps.values import PSObject
from herder_dev.scvmm_sim.vmm import diskfile, library_views, operating_systems, views
from herder_dev.scvmm_sim.vmm.cmdlets import ASYNC, GUID, Outcome, Vmm, _obj, _switch
from herder_dev.scvmm_sim.vmm.errors import INVALID_STATE, NOT_FOUND, vmm_error
from herder_dev.scvmm_sim.vmm.guest import PARAMS as GUEST_PARAMS
from herder_dev.scvmm_sim.vmm.shares import Shares
from herder_dev.scvmm_sim.vmm.state import Record, Store, new_id

_MIB, _GIB = 1024 * 1024, 1024 * 1024 * 1024
# Error IDs the VMM reference does not document; see docs/scvmm.md ("Error IDs").
FILE_EXISTS = 2906
IN_USE = 12702
GENERATION_2_NEEDS_VHDX = 13264


class Library:
    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.store = vmm.store
        self.shares = Shares(self.store)
        self.shares.ensure_directories()
        self.store.handlers["refresh_share"] = (self._finish_refresh, _nothing)
        self.store.handlers["template_from_vm"] = (self._finish_template_from_vm, _restore_vm)

    # ---- servers, shares and the refresher -------------------------------------------------------
    def get_library_server(self, inv: Invocation) -> Outcome:
        servers = self.store.all("library_servers")
        if inv.has("ComputerName"):
            name = inv.get("ComputerName").lower()
            servers = [s for s in servers if name in (s["name"].lower(), s["name"].split(".")[0].lower())]
        if inv.has("ID"):
            servers = [s for s in servers if s["id"] == str(inv.get("ID"))]
        return Outcome(lambda: [library_views.library_server(self.store, s) for s in servers])

    def get_library_share(self, inv: Invocation) -> Outcome:
        shares = self.vmm._select("library_shares", inv)
        return Outcome(lambda: [library_views.library_share(self.store, s) for s in shares])

    def read_library_share(self, inv: Invocation) -> Outcome:
        share = self._record(inv, "LibraryShare", "library_shares", "library share")
        under = ""
        if inv.has("Path"):
            located = self.shares.locate(inv.get("Path"))
            if located is None or located.share["id"] != share["id"]:
                raise vmm_error(NOT_FOUND, f"VMM cannot find the path {inv.get('Path')} on library share "
                                           f"{self.shares.unc(share)}.")
            under = located.relative
        job = self.vmm._job(inv, share, {"kind": "refresh_share", "share": share["id"], "under": under},
                            "Refresh library share")
        return Outcome(lambda: [library_views.library_share(self.store, share)], job)

    def _finish_refresh(self, store: Store, effect: Record) -> None:
        share = store.find("library_shares", effect["share"])
        if share is not None:
            self.rescan(share, effect["under"])

    def rescan(self, share: Record, under: str = "") -> None:
        """Make the share's VirtualHardDisk objects match the .vhd/.vhdx files under `under` (all when empty)."""
        root = self.shares.directory(share)
        prefix = under.lower() + "\\" if under else ""
        files: dict[str, Path] = {}
        for path in root.rglob("*"):
            relative = self.shares.relative(share, path)
            if path.is_file() and path.suffix.lower() in diskfile.EXTENSIONS and relative.lower().startswith(prefix):
                files[relative.lower()] = path
        now = time.time()
        for vhd in [v for v in self.store.all("vhds") if v["share"] == share["id"]]:
            if vhd["relative"].lower().startswith(prefix) and vhd["relative"].lower() not in files:
                self.store.data["vhds"].remove(vhd)  # the file is gone
        known = {v["relative"].lower(): v for v in self.store.all("vhds") if v["share"] == share["id"]}
        for key, path in sorted(files.items()):
            try:
                disk = diskfile.inspect(path)
            except diskfile.NotADisk:
                if key in known:
                    self.store.data["vhds"].remove(known[key])
                continue  # the refresher does not import what is not a virtual hard disk
            vhd = known.get(key) or self._new_vhd(share, path, now)
            vhd.update({"format": disk.format, "vhd_type": disk.vhd_type, "maximum_size": disk.maximum_size,
                        "size": disk.size, "modified": now})

    def _new_vhd(self, share: Record, path: Path, now: float) -> Record:
        vhd = {"id": new_id(), "name": path.name, "description": "", "share": share["id"],
               "relative": self.shares.relative(share, path), "os": "None", "family_name": "", "release": "",
               "custom": {}, "added": now}
        self.store.data["vhds"].append(vhd)
        return vhd

    # ---- virtual hard disks ----------------------------------------------------------------------
    def _record(self, inv: Invocation, param: str, kind: str, what: str) -> Record:
        obj: PSObject = inv.get(param)
        return self.store.get(kind, str(obj.props["ID"]), what)

    def get_vhd(self, inv: Invocation) -> Outcome:
        if inv.has("VM"):
            vm = self.vmm._vm(inv)
            return Outcome(lambda: [views.disk(vm, d).props["VirtualHardDisk"] for d in vm["disks"]])
        if inv.has("VMTemplate"):
            tmpl = self._record(inv, "VMTemplate", "templates", "template")
            return Outcome(lambda: list(library_views.template_extras(self.store, tmpl)["VirtualHardDisks"]))
        vhds = self.store.all("vhds")
        for param, key in (("Name", "name"), ("FamilyName", "family_name"), ("Release", "release")):
            if inv.has(param):
                vhds = [v for v in vhds if v[key].lower() == inv.get(param).lower()]
        if inv.has("ID"):
            vhds = [v for v in vhds if v["id"] == str(inv.get("ID"))]
        attached = [] if inv.args.keys() & {"Name", "ID", "FamilyName"} else [
            views.disk(vm, d).props["VirtualHardDisk"] for vm in self.store.all("vms") for d in vm["disks"]]
        return Outcome(lambda: [*(library_views.vhd(self.store, v) for v in vhds), *attached])

    def _library_vhd(self, inv: Invocation) -> Record:
        obj: PSObject = inv.get("VirtualHardDisk")
        vhd = self.store.find("vhds", str(obj.props["ID"]))
        if vhd is None:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the virtual hard disk {obj.props['Name']} in the library.")
        return vhd

    def set_vhd(self, inv: Invocation) -> Outcome:
        vhd = self._library_vhd(inv)
        for param, key in (("Name", "name"), ("Description", "description"), ("FamilyName", "family_name"),
                           ("Release", "release")):
            if inv.has(param):
                vhd[key] = inv.get(param)
        if inv.has("OperatingSystem"):
            vhd["os"] = operating_systems.name_of(inv.get("OperatingSystem"))
        vhd["modified"] = time.time()
        return Outcome(lambda: [library_views.vhd(self.store, vhd)])

    def remove_vhd(self, inv: Invocation) -> Outcome:
        vhd = self._library_vhd(inv)
        users = [t for t in self.store.all("templates") if vhd["id"] in _template_vhds(t)]
        if users and not inv.get("Force"):
            raise vmm_error(IN_USE, f"The virtual hard disk {vhd['name']} is used by template(s) "
                                    f"{', '.join(t['name'] for t in users)}. Use -Force to remove it anyway.")
        for t in users:
            t["vhd"] = None if t.get("vhd") == vhd["id"] else t["vhd"]
            t["data_vhds"] = [d for d in t.get("data_vhds", []) if d["vhd"] != vhd["id"]]
        share = self.store.get("library_shares", vhd["share"], "library share")
        located = self.shares.locate(self.shares.unc(share, vhd["relative"]))
        if located is not None:
            located.path.unlink(missing_ok=True)
        self.store.data["vhds"].remove(vhd)
        return Outcome(lambda: [])

    # ---- templates -------------------------------------------------------------------------------
    def new_template(self, inv: Invocation) -> Outcome:
        if inv.has("VirtualHardDisk"):
            return self._template_from_vhd(inv)
        if inv.has("VMTemplate"):
            return self._template_from_template(inv)
        if inv.has("VM"):
            return self._template_from_vm(inv)
        raise NotSupportedError("New-SCVMTemplate without -VirtualHardDisk, -VMTemplate or -VM "
                                "(the NewTemplateFromNothing parameter set)")

    def _template(self, inv: Invocation, base: Record) -> Record:
        """A new template record: base's hardware and guest profile, overridden by what the invocation gives."""
        tmpl = {**base, "id": new_id(), "name": inv.get("Name"), "custom": {},
                "guest": {**base.get("guest", {}), **self.vmm.guest.settings(inv)}}
        for param, key in (("Description", "description"), ("CPUCount", "cpu_count"), ("MemoryMB", "memory_mb"),
                           ("Generation", "generation")):
            if inv.has(param):
                tmpl[key] = inv.get(param)
        if inv.has("OperatingSystem"):
            tmpl["os"] = operating_systems.name_of(inv.get("OperatingSystem"))
        if inv.has("NoCustomization"):
            tmpl["no_customization"] = bool(inv.get("NoCustomization"))
        return tmpl

    def _template_from_vhd(self, inv: Invocation) -> Outcome:
        vhd = self._library_vhd(inv)
        # VMM's defaults for a template without a hardware profile: 1 CPU, 512 MB, generation 1.
        tmpl = self._template(inv, {"description": "", "os": vhd["os"], "cpu_count": 1, "memory_mb": 512,
                                    "generation": 1, "disk_gb": -(-vhd["maximum_size"] // _GIB), "vhd": vhd["id"],
                                    "data_vhds": [], "no_customization": False})
        if tmpl["generation"] == 2 and vhd["format"] != "VHDX":
            raise vmm_error(GENERATION_2_NEEDS_VHDX, f"{vhd['name']} is a VHD; generation 2 virtual machines "
                                                     "boot only from VHDX files.")
        self.store.data["templates"].append(tmpl)
        return Outcome(lambda: [views.template(self.store, tmpl)])

    def _template_from_template(self, inv: Invocation) -> Outcome:
        tmpl = self._template(inv, self._record(inv, "VMTemplate", "templates", "template"))
        self.store.data["templates"].append(tmpl)
        return Outcome(lambda: [views.template(self.store, tmpl)])

    def _template_from_vm(self, inv: Invocation) -> Outcome:
        vm = self.vmm._idle_vm(inv)
        if vm["status"] != "PowerOff":
            raise vmm_error(INVALID_STATE, "The virtual machine must be stopped to create a template from it.")
        share, directory = self._destination(inv)
        files = []
        for d in vm["disks"]:
            relative = "\\".join(p for p in (directory, d["file"]) if p)
            located = self.shares.locate(self.shares.unc(share, relative))
            if located is None or located.path.exists():
                raise vmm_error(FILE_EXISTS, f"The file {self.shares.unc(share, relative)} already exists in the "
                                             "library.")
            files.append({"vhd": new_id(), "relative": relative, "size_mb": d["size_mb"], "boot": d.get("boot"),
                          "bus": d["bus"], "lun": d["lun"]})
        boot = next((f for f in files if f["boot"]), files[0] if files else None)
        tmpl = self._template(inv, {
            "description": "", "os": vm["os"], "cpu_count": vm["cpu_count"], "memory_mb": vm["memory_mb"],
            "generation": vm["generation"], "disk_gb": -(-boot["size_mb"] // 1024) if boot else 0,
            "vhd": boot["vhd"] if boot else None, "no_customization": False,
            "data_vhds": [{"vhd": f["vhd"], "bus": f["bus"], "lun": f["lun"]} for f in files if f is not boot]})
        # VMM runs Sysprep in the guest unless the template is not customizable: the disks it copies are generalized.
        tmpl["generalized"] = not tmpl["no_customization"]
        outcome = self.vmm._vm_job(inv, vm, "Create template", "UnderUpdate", {
            "kind": "template_from_vm", "template": tmpl, "share": share["id"], "files": files})
        return Outcome(lambda: [views.template(self.store, t) for t in self.store.all("templates")
                                if t["id"] == tmpl["id"]], outcome.job)

    def _destination(self, inv: Invocation) -> tuple[Record, str]:
        """The share and directory -SharePath names (VMM's first share of -LibraryServer when it is not given)."""
        server = self._record(inv, "LibraryServer", "library_servers", "library server") \
            if inv.has("LibraryServer") else None
        shares = [s for s in self.store.all("library_shares") if server is None or s["server"] == server["id"]]
        if not inv.has("SharePath"):
            if not shares:
                raise vmm_error(NOT_FOUND, "VMM cannot find a library share to store the template in.")
            return shares[0], ""
        located = self.shares.locate(inv.get("SharePath"))
        if located is None or located.share not in shares:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the library share path {inv.get('SharePath')}.")
        return located.share, located.relative

    def _finish_template_from_vm(self, store: Store, effect: Record) -> None:
        vm = store.find("vms", effect["vm"])
        if vm is None:
            return  # removed with -Force meanwhile
        share = store.get("library_shares", effect["share"], "library share")
        now = time.time()
        for f in effect["files"]:
            located = self.shares.locate(self.shares.unc(share, f["relative"]))
            if located is None:
                continue
            located.path.parent.mkdir(parents=True, exist_ok=True)
            diskfile.write_vhdx(located.path, f["size_mb"] * _MIB)
            vhd = self._new_vhd(share, located.path, now)
            disk = diskfile.inspect(located.path)
            vhd.update({"id": f["vhd"], "os": vm["os"], "format": disk.format, "vhd_type": disk.vhd_type,
                        "maximum_size": disk.maximum_size, "size": disk.size, "modified": now,
                        "generalized": effect["template"]["generalized"]})
        store.data["templates"].append(effect["template"])
        store.data["vms"].remove(vm)

    def remove_template(self, inv: Invocation) -> Outcome:
        tmpl = self._record(inv, "VMTemplate", "templates", "template")
        self.store.data["templates"].remove(tmpl)
        return Outcome(lambda: [])

    def template_disks(self, tmpl: Record, vm_name: str) -> list[dict[str, Any]]:
        """The disks a VM made from tmpl gets: copies of its library VHDs, or one empty disk of the seeded size."""
        if not tmpl.get("vhd"):
            return [{"bus": 0, "lun": 0, "size_mb": tmpl["disk_gb"] * 1024, "file_name": f"{vm_name}_disk_1.vhdx",
                     "dynamic": True, "boot": True}]
        disks = []
        for vhd_id, bus, lun in [(tmpl["vhd"], 0, 0), *((d["vhd"], d["bus"], d["lun"]) for d in tmpl["data_vhds"])]:
            vhd = self.store.get("vhds", vhd_id, "virtual hard disk")
            disks.append({"bus": bus, "lun": lun, "size_mb": -(-vhd["maximum_size"] // _MIB),
                          "file_name": vhd["name"], "dynamic": vhd["vhd_type"] != "FixedSize",
                          "boot": vhd_id == tmpl["vhd"]})
        return disks

    # ---- the table -------------------------------------------------------------------------------
    def cmdlets(self) -> list[Cmdlet]:
        c = self.vmm._cmdlet
        ident = Param("ID", GUID, guid)
        vhd_param = Param("VirtualHardDisk", library_views.VIRTUAL_HARD_DISK,
                          of_type(library_views.VIRTUAL_HARD_DISK), mandatory=True, position=0, pipeline=True)
        template_param = _obj("VMTemplate", views.TEMPLATE)
        os_param = _obj("OperatingSystem", operating_systems.OPERATING_SYSTEM)
        return [
            c("Get-SCLibraryServer", (Param("ComputerName", convert=string, position=0), ident),
              self.get_library_server),
            c("Get-SCLibraryShare", (ident,), self.get_library_share),
            c("Read-SCLibraryShare", (Param("LibraryShare", library_views.LIBRARY_SHARE,
                                            of_type(library_views.LIBRARY_SHARE), mandatory=True, position=0,
                                            pipeline=True),
                                      Param("Path", convert=string), _switch("RunAsynchronously")),
              self.read_library_share),
            c("Get-SCVirtualHardDisk", (_switch("All"), Param("Name", convert=string), ident,
                                        Param("FamilyName", convert=string), Param("Release", convert=string),
                                        _obj("VM", views.VM), template_param), self.get_vhd,
              exclusive=(("All", "Name", "ID", "FamilyName", "VM", "VMTemplate"),)),
            c("Set-SCVirtualHardDisk", (vhd_param, Param("Name", convert=string),
                                        Param("Description", convert=string), os_param,
                                        Param("FamilyName", convert=string), Param("Release", convert=string),
                                        *ASYNC), self.set_vhd),
            c("Remove-SCVirtualHardDisk", (vhd_param, _switch("Force"), *ASYNC), self.remove_vhd),
            c("Get-SCOperatingSystem", (ident,), lambda inv: Outcome(lambda: operating_systems.get(inv))),
            c("New-SCVMTemplate", (
                Param("Name", convert=string, mandatory=True, position=0, pipeline=True),
                Param("VirtualHardDisk", library_views.VIRTUAL_HARD_DISK, of_type(library_views.VIRTUAL_HARD_DISK)),
                Param("VMTemplate", views.TEMPLATE, of_type(views.TEMPLATE), aliases=("Template",)),
                _obj("VM", views.VM), _obj("LibraryServer", library_views.LIBRARY_SERVER),
                Param("SharePath", convert=string), Param("Description", convert=string), os_param,
                Param("Generation", "System.Int32", integer), Param("CPUCount", "System.Byte", byte,
                                                                    aliases=("ProcessorCount",)),
                Param("MemoryMB", "System.Int32", integer), _switch("NoCustomization"),
                Param("ComputerName", convert=string), *GUEST_PARAMS, *ASYNC,
            ), self.new_template, exclusive=(
                ("VirtualHardDisk", "VMTemplate", "VM"), ("VirtualHardDisk", "LibraryServer"),
                ("VirtualHardDisk", "SharePath"), ("VMTemplate", "LibraryServer"), ("VMTemplate", "SharePath"),
                ("VMTemplate", "Generation"), ("VMTemplate", "NoCustomization"), ("VM", "Generation"),
                ("VM", "LinuxAdministratorSSHKeyString"))),
            c("Remove-SCVMTemplate", (Param("VMTemplate", views.TEMPLATE, of_type(views.TEMPLATE), mandatory=True,
                                            position=0, pipeline=True, aliases=("Template",)),
                                      _switch("Force"), *ASYNC), self.remove_template),
        ]


def _template_vhds(t: Record) -> list[str]:
    return [v for v in (t.get("vhd"), *(d["vhd"] for d in t.get("data_vhds", []))) if v]


def _nothing(store: Store, effect: Record) -> None:
    pass


def _restore_vm(store: Store, effect: Record) -> None:
    vm = store.find("vms", effect["vm"])
    if vm is not None:
        vm["status"] = effect["prev"]
