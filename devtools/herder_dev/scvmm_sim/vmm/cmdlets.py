"""The VMM cmdlets: parameters as in Microsoft's VMM reference, behaviour over the simulated inventory."""

from __future__ import annotations

import ntpath
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from herder_dev.scvmm_sim.faults import Faults
from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    Invocation,
    Param,
    boolean,
    byte,
    enum,
    guid,
    integer,
    list_of,
    of_type,
    string,
)
from herder_dev.scvmm_sim.ps.values import Props, PSObject, to_str
from herder_dev.scvmm_sim.vmm import capacity, placement, views
from herder_dev.scvmm_sim.vmm.errors import INVALID_STATE, NOT_FOUND, vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store, new_id

MODULE = "virtualmachinemanager"
SWITCH = "System.Management.Automation.SwitchParameter"
GUID = "System.Guid"
MEMBER_TYPES = ("VM", "VMTemplate", "VMHost", "HostCluster", "Cloud", "ServiceInstance", "ComputerTier")


def _switch(name: str) -> Param:
    return Param(name, SWITCH, boolean, switch=True)


def _obj(name: str, type_name: str, mandatory: bool = False, pipeline: bool = False) -> Param:
    return Param(name, type_name, of_type(type_name), mandatory=mandatory, pipeline=pipeline)


SERVER = _obj("VMMServer", views.SERVER)
ASYNC = (_switch("RunAsynchronously"), Param("JobGroup", GUID, guid))
VM = _obj("VM", views.VM, mandatory=True, pipeline=True)
CHECKPOINT_TYPE = Param("CheckpointType", views.CHECKPOINT_TYPE, enum(views.CHECKPOINT_TYPE, *views.CHECKPOINT_TYPES))


@dataclass
class Outcome:
    """What a handler did: the output to build once any synchronous job has finished, and that job."""

    output: Callable[[], list[Any]]
    job: Record | None = None


class Vmm:
    def __init__(self, store: Store, faults: Faults) -> None:
        self.store = store
        self.faults = faults
        # The library, networking and guest OS modules build on this one's plumbing, hence the late import.
        from herder_dev.scvmm_sim.vmm import config_adapters, files, guest, library, networks

        self.guest, self.library = guest.Guest(self), library.Library(self)
        self.networks, self.files = networks.Networks(self), files.Files(store)
        self.config_adapters = config_adapters.ConfigAdapters(self, self.networks)

    # ---- plumbing --------------------------------------------------------------------------------
    def _cmdlet(self, name: str, params: tuple[Param, ...], fn: Callable[[Invocation], Outcome],
                exclusive: tuple[tuple[str, ...], ...] = (), one_of: tuple[tuple[str, ...], ...] = ()) -> Cmdlet:
        def handler(inv: Invocation) -> list[Any]:
            self.faults.delay()
            injected = self.faults.cmdlet_error(name)
            if injected is not None:
                raise vmm_error(injected)
            with self.store.mutate():
                self.store.tick()
                outcome = fn(inv)
            job = outcome.job
            if job is not None and not inv.get("RunAsynchronously"):
                time.sleep(max(0.0, job["ends"] - time.time()))  # a synchronous cmdlet waits for its job
                with self.store.lock:
                    self.store.tick()
                if job["status"] == "Failed":
                    raise vmm_error(job["fail"])
            with self.store.lock:
                return outcome.output()

        return Cmdlet(name, (*params, SERVER), handler, exclusive=exclusive, one_of=one_of, module=MODULE)

    def _job(self, inv: Invocation, target: Record | None, effect: Record, title: str) -> Record:
        return self.store.start_job(title, inv.name, target, effect, self.faults.job_failure(inv.name))

    def _vm(self, inv: Invocation, param: str = "VM") -> Record:
        obj: PSObject = inv.get(param)
        return self.store.get("vms", str(obj.props["ID"]), "virtual machine")

    def _idle_vm(self, inv: Invocation) -> Record:
        """The VM a mutating cmdlet works on: VMM refuses with 1600 while another job holds it."""
        vm = self._vm(inv)
        self.store.ensure_idle(vm["id"], vm["name"])
        return vm

    def _ref(self, inv: Invocation, param: str, kind: str, what: str) -> Record | None:
        obj: PSObject | None = inv.get(param)
        return self.store.get(kind, str(obj.props["ID"]), what) if obj is not None else None

    def _vm_out(self, vm_id: str) -> Callable[[], list[Any]]:
        def out() -> list[Any]:
            vm = self.store.find("vms", vm_id)
            return [views.vm(self.store, vm)] if vm else []

        return out

    def _vm_job(self, inv: Invocation, vm: Record, title: str, transitional: str, effect: Record) -> Outcome:
        """Start a job on an idle VM; the VM shows `transitional` until the job ends."""
        self.store.ensure_idle(vm["id"], vm["name"])
        effect = {"vm": vm["id"], "prev": vm["status"], **effect}
        job = self._job(inv, vm, effect, title)
        vm["status"] = transitional
        return Outcome(self._vm_out(vm["id"]), job)

    # ---- connection and inventory ----------------------------------------------------------------
    def get_server(self, inv: Invocation) -> Outcome:
        name = self.store.data["server"]
        return Outcome(lambda: [views.server(name)])

    def _select(self, kind: str, inv: Invocation, by_name: str = "Name") -> list[Record]:
        records = self.store.all(kind)
        if inv.has("ID"):
            records = [r for r in records if r["id"] == str(inv.get("ID"))]
        if inv.has(by_name):
            records = [r for r in records if r["name"].lower() == inv.get(by_name).lower()]
        return records

    def get_host_group(self, inv: Invocation) -> Outcome:
        groups = self._select("host_groups", inv)
        parent = self._ref(inv, "ParentHostGroup", "host_groups", "host group")
        if parent is not None:
            groups = [g for g in groups if g["parent"] == parent["path"]]
        return Outcome(lambda: [views.host_group(self.store, g) for g in groups])

    def get_host(self, inv: Invocation) -> Outcome:
        hosts = self._select("hosts", inv, "ComputerName")
        if inv.has("ComputerName") and not hosts:
            name = inv.get("ComputerName").lower()
            hosts = [h for h in self.store.all("hosts") if h["name"].split(".")[0].lower() == name]
        group = self._ref(inv, "VMHostGroup", "host_groups", "host group")
        if group is not None:
            hosts = [h for h in hosts if _under(h["host_group"], group["path"])]
        return Outcome(lambda: [views.host(self.store, h) for h in hosts])

    def get_cloud(self, inv: Invocation) -> Outcome:
        clouds = self._select("clouds", inv)
        return Outcome(lambda: [views.cloud(self.store, c) for c in clouds])

    def get_template(self, inv: Invocation) -> Outcome:
        templates = self._select("templates", inv)
        return Outcome(lambda: [views.template(self.store, t) for t in templates])

    def get_job(self, inv: Invocation) -> Outcome:
        jobs = self._select("jobs", inv)
        if inv.get("Running"):
            jobs = [j for j in jobs if j["status"] == "Running"]
        return Outcome(lambda: [views.job(self.store, j) for j in jobs])

    # ---- configurations and creation -------------------------------------------------------------
    def _place(self, group_paths: list[str]) -> Record:
        hosts = [h for h in self.store.all("hosts") if any(_under(h["host_group"], p) for p in group_paths)
                 and placement.placeable(h)]
        if not hosts:
            raise vmm_error(23759, "Unable to find a suitable host for the virtual machine in "
                                   f"{', '.join(group_paths)}.")
        return max(hosts, key=lambda h: h["memory_mb"] - views.used_memory_mb(self.store, h["id"]))

    def new_config(self, inv: Invocation) -> Outcome:
        tmpl = self._ref(inv, "VMTemplate", "templates", "template")
        group = self._ref(inv, "VMHostGroup", "host_groups", "host group")
        cloud = self._ref(inv, "Cloud", "clouds", "cloud")
        if (group is None) == (cloud is None):
            raise vmm_error(12406, "Specify either a host group or a cloud for the virtual machine configuration.")
        cfg = {"id": new_id(), "name": inv.get("Name"), "template": tmpl["id"] if tmpl else "",
               "host_group": group["path"] if group else None, "cloud": cloud["id"] if cloud else None,
               "host": None, "location": None, "adapters": self.config_adapters.new()}
        self.store.data["configs"].append(cfg)
        return Outcome(lambda: [views.config(self.store, cfg)])

    def _config(self, inv: Invocation) -> Record:
        obj: PSObject = inv.get("VMConfiguration")
        return self.store.get("configs", str(obj.props["ID"]), "virtual machine configuration")

    def set_config(self, inv: Invocation) -> Outcome:
        cfg = self._config(inv)
        h = self._ref(inv, "VMHost", "hosts", "host")
        if h is not None:
            placement.ensure_placeable(h)
            if cfg["host_group"] and not _under(h["host_group"], cfg["host_group"]):
                raise vmm_error(23760, f"The host {h['name']} is not in host group {cfg['host_group']}.")
            cfg["host"] = h["id"]
        if inv.has("VMLocation"):
            cfg["location"] = inv.get("VMLocation")
        if inv.has("ComputerName"):
            cfg["computer_name"] = inv.get("ComputerName")
        return Outcome(lambda: [views.config(self.store, cfg)])

    def update_config(self, inv: Invocation) -> Outcome:
        cfg = self._config(inv)
        if cfg["host"] is None:
            cfg["host"] = self._place(self._config_groups(cfg))["id"]
        self.config_adapters.allocate(cfg)
        return Outcome(lambda: [views.config(self.store, cfg)])

    def _config_groups(self, cfg: Record) -> list[str]:
        if cfg["host_group"]:
            return [cfg["host_group"]]
        return list(self.store.get("clouds", cfg["cloud"], "cloud")["host_groups"])

    def new_vm(self, inv: Invocation) -> Outcome:
        if inv.has("VM"):
            return self._clone_vm(inv)
        cfg = self._config(inv) if inv.has("VMConfiguration") else None
        tmpl = (self.store.get("templates", cfg["template"], "template") if cfg
                else self._ref(inv, "VMTemplate", "templates", "template"))
        cloud = self._ref(inv, "Cloud", "clouds", "cloud")
        group = self._ref(inv, "VMHostGroup", "host_groups", "host group")
        if tmpl is None:
            raise vmm_error(12406, "Specify -VMConfiguration or -VMTemplate to create a virtual machine.")
        if cfg is not None:
            groups = self._config_groups(cfg)
            cloud = cloud or (self.store.find("clouds", cfg["cloud"]) if cfg["cloud"] else None)
        elif group is not None or cloud is not None:
            groups = [group["path"]] if group else list(cloud["host_groups"] if cloud else [])
        else:
            raise vmm_error(12406, "Specify -VMHostGroup or -Cloud to place the virtual machine.")
        h = self.store.find("hosts", cfg["host"]) if cfg and cfg["host"] else self._place(groups)
        if h is None:
            h = self._place(groups)
        placement.ensure_placeable(h)
        vm_id = new_id()
        disks = [_disk(**spec) for spec in self.library.template_disks(tmpl, inv.get("Name"))]
        computer_name = inv.get("ComputerName", (cfg or {}).get("computer_name") or inv.get("Name"))
        guest = self.guest.for_vm(inv, tmpl, computer_name)
        nics: list[Record] = []
        if inv.has("JobGroup"):
            disks += self.store.data["job_groups"].pop(str(inv.get("JobGroup")), [])
            nics = self.networks.job_group_adapters(str(inv.get("JobGroup")), tmpl["generation"])
        memory = inv.get("MemoryMB", tmpl["memory_mb"])
        first = self._first_adapter()
        if cfg is not None:
            first = self.config_adapters.apply(cfg, first)
        vm = {
            "id": vm_id, "vm_id": new_id().upper(), "bios_guid": new_id(), "name": inv.get("Name"),
            "description": inv.get("Description", ""), "computer_name": computer_name, "guest": guest,
            "status": "UnderCreation", "host_group": h["host_group"], "host": h["id"],
            "cloud": cloud["id"] if cloud else None, "cpu_count": inv.get("CPUCount", tmpl["cpu_count"]),
            "memory_mb": memory, "dynamic_memory": bool(inv.get("DynamicMemoryEnabled", False)),
            "dynamic_min_mb": memory, "dynamic_max_mb": memory, "generation": tmpl["generation"],
            "tag": "(none)", "os": tmpl["os"], "custom": {}, "most_recent_job": None, "disks": disks,
            "nics": [first, *nics], "checkpoints": [], "created": time.time(), "current_checkpoint": None,
            "checkpoint_type": inv.get("CheckpointType", "Production"),
            "location": ntpath.join(cfg["location"], inv.get("Name")) if cfg and cfg["location"] else None,
        }
        if cloud is not None:
            capacity.admit(self.store, cloud, capacity.demand(vm))
        if cfg is not None:
            self.store.data["configs"].remove(cfg)
        return self._create(inv, vm, "Create virtual machine")

    def _first_adapter(self) -> Record:
        """The adapter a template gives every VM (not connected to a VM network), with the address its guest takes
        by DHCP."""
        index = len(self.store.data["vms"]) + len(self.store.data["jobs"])
        return {"id": new_id(), "mac": f"00:1D:D8:B7:{index // 256 % 256:02X}:{index % 256:02X}", "mac_type": "Dynamic",
                "vm_network": None, "vm_subnet": None, "vlan_enabled": False, "vlan_id": 0, "ipv4_type": "Dynamic",
                "ipv4": [f"10.20.{index // 250 % 250}.{index % 250 + 10}"], "pools": [], "synthetic": True,
                "slot": 0}

    def _create(self, inv: Invocation, vm: Record, title: str) -> Outcome:
        """Add the new VM (UnderCreation) and start the job that makes it."""
        self.store.data["vms"].append(vm)
        effect = {"kind": "update", "vm": vm["id"], "prev": "PowerOff", "fail_status": "CreationFailed",
                  "status": "Running" if inv.get("StartVM") else "PowerOff"}
        job = self._job(inv, vm, effect, title)
        return Outcome(self._vm_out(vm["id"]), job)

    def _clone_vm(self, inv: Invocation) -> Outcome:
        """NewVmFromVm (-VMHost and -Path) and NewVmFromVmCloud (-Cloud): a copy of a stopped VM, with copies of
        its disks, its adapters on the same networks (new MAC addresses, dynamic addressing: static addresses are
        not copied), its guest OS as it is (no customization) and no custom property values."""
        source = self._vm(inv)
        self.store.ensure_idle(source["id"], source["name"])
        cloud = self._ref(inv, "Cloud", "clouds", "cloud")
        h = self._ref(inv, "VMHost", "hosts", "host")
        if cloud is None and (h is None or not inv.has("Path")):
            raise vmm_error(12406, "Specify -VMHost and -Path, or -Cloud, to clone a virtual machine.")
        if source["status"] != "PowerOff":
            raise vmm_error(INVALID_STATE, f"The virtual machine {source['name']} must be stopped to clone it.")
        if h is None:
            assert cloud is not None
            h = self._place(list(cloud["host_groups"]))
        placement.ensure_placeable(h)
        first = self._first_adapter()
        nics = [{**n, "id": new_id(), "mac": self.networks.next_mac(), "mac_type": "Dynamic",
                 "ipv4_type": "Dynamic", "pools": [], "ipv4": first["ipv4"] if i == 0 else []}
                for i, n in enumerate(source["nics"])]
        vm = {**source, "id": new_id(), "vm_id": new_id().upper(), "bios_guid": new_id(), "name": inv.get("Name"),
              "description": inv.get("Description", ""), "status": "UnderCreation", "host_group": h["host_group"],
              "host": h["id"], "cloud": cloud["id"] if cloud else None, "custom": {}, "most_recent_job": None,
              "disks": [{**d, "id": new_id(), "vhd_id": new_id()} for d in source["disks"]], "nics": nics,
              "checkpoints": [], "current_checkpoint": None, "created": time.time(),
              "guest": dict(source.get("guest", {})),
              "location": ntpath.join(inv.get("Path"), inv.get("Name")) if inv.has("Path") else None}
        for param, key in (("CPUCount", "cpu_count"), ("MemoryMB", "memory_mb")):
            if inv.has(param):
                vm[key] = inv.get(param)
        if cloud is not None:
            capacity.admit(self.store, cloud, capacity.demand(vm))
        return self._create(inv, vm, "Clone virtual machine")

    # ---- virtual machines ------------------------------------------------------------------------
    def get_vm(self, inv: Invocation) -> Outcome:
        vms = self._select("vms", inv)
        h = self._ref(inv, "VMHost", "hosts", "host")
        if h is not None:
            vms = [v for v in vms if v["host"] == h["id"]]
        cloud = self._ref(inv, "Cloud", "clouds", "cloud")
        if cloud is not None:
            vms = [v for v in vms if v["cloud"] == cloud["id"]]
        return Outcome(lambda: [views.vm(self.store, v) for v in vms])

    def set_vm(self, inv: Invocation) -> Outcome:
        vm = self._idle_vm(inv)
        fields: Record = {}
        names = {"CPUCount": "cpu_count", "MemoryMB": "memory_mb", "DynamicMemoryEnabled": "dynamic_memory",
                 "DynamicMemoryMinimumMB": "dynamic_min_mb", "DynamicMemoryMaximumMB": "dynamic_max_mb",
                 "Description": "description", "Tag": "tag", "Name": "name", "CheckpointType": "checkpoint_type"}
        for param, key in names.items():
            if inv.has(param):
                fields[key] = inv.get(param)
        hardware = {"cpu_count", "memory_mb", "dynamic_memory"} & set(fields)
        if hardware and vm["status"] not in ("PowerOff", "Saved"):
            raise vmm_error(INVALID_STATE, f"Unable to change the hardware of {vm['name']} while it is "
                                           f"{vm['status']}; stop the virtual machine first.")
        cloud = self._ref(inv, "Cloud", "clouds", "cloud")
        if cloud is not None and cloud["id"] != vm["cloud"]:
            if not any(_under(vm["host_group"], p) for p in cloud["host_groups"]):
                raise vmm_error(23760, f"The host of {vm['name']} is not in a host group of cloud {cloud['name']}.")
            capacity.admit(self.store, cloud, capacity.demand({**vm, **fields}))
            fields["cloud"] = cloud["id"]
        else:
            capacity.admit_change(self.store, vm, fields)
        return self._vm_job(inv, vm, "Change properties of virtual machine", "UnderUpdate",
                            {"kind": "update", "fields": fields})

    def _power(self, title: str, allowed: tuple[str, ...], transitional: str, final: str) -> Callable[
            [Invocation], Outcome]:
        def run(inv: Invocation) -> Outcome:
            vm = self._idle_vm(inv)
            if vm["status"] not in allowed:
                raise vmm_error(INVALID_STATE)
            return self._vm_job(inv, vm, title, transitional, {"kind": "update", "status": final})

        return run

    def stop_vm(self, inv: Invocation) -> Outcome:
        """-Shutdown asks the guest OS (Running only: a paused guest cannot act); otherwise power is cut."""
        if inv.get("Shutdown"):
            return self._power("Shut down virtual machine", ("Running",), "Stopping", "PowerOff")(inv)
        return self._power("Stop virtual machine", ("Running", "Paused"), "PoweringOff", "PowerOff")(inv)

    def remove_vm(self, inv: Invocation) -> Outcome:
        vm = self._idle_vm(inv)
        if vm["status"] in ("Running", "Paused") and not inv.get("Force"):
            raise vmm_error(INVALID_STATE, f"The virtual machine {vm['name']} is running; stop it before "
                                           "removing it.")
        outcome = self._vm_job(inv, vm, "Remove virtual machine", "Deleting", {"kind": "remove_vm"})
        return Outcome(lambda: [], outcome.job)

    def read_vm(self, inv: Invocation) -> Outcome:
        vm = self._idle_vm(inv)
        return Outcome(self._vm_out(vm["id"]))

    # ---- disks -----------------------------------------------------------------------------------
    def new_disk(self, inv: Invocation) -> Outcome:
        bus_type = "SCSI" if inv.get("SCSI") else "IDE" if inv.get("IDE") else None
        if bus_type is None or not inv.has("VirtualHardDiskSizeMB"):
            raise vmm_error(12406, "Specify -SCSI or -IDE and -VirtualHardDiskSizeMB for a new disk.")
        d = _disk(inv.get("Bus"), inv.get("LUN"), inv.get("VirtualHardDiskSizeMB"), inv.get("FileName"),
                  dynamic=not inv.get("Fixed"), bus_type=bus_type)
        if not inv.has("VM"):
            if not inv.has("JobGroup"):
                raise vmm_error(12406, "Specify -VM, or -JobGroup to add the disk to a new virtual machine.")
            self.store.data["job_groups"].setdefault(str(inv.get("JobGroup")), []).append(d)
            return Outcome(lambda: [])
        vm = self._idle_vm(inv)
        if any(x["bus_type"] == bus_type and x["bus"] == d["bus"] and x["lun"] == d["lun"] for x in vm["disks"]):
            raise vmm_error(13206, f"The {bus_type} location {d['bus']}:{d['lun']} of {vm['name']} is in use.")
        capacity.admit_change(self.store, vm, {"disks": [*vm["disks"], d]})
        outcome = self._vm_job(inv, vm, "Create virtual disk drive", "UnderUpdate",
                               {"kind": "add_disk", "disk": d})
        return Outcome(lambda: self._disk_out(vm["id"], d["id"]), outcome.job)

    def _disk_out(self, vm_id: str, disk_id: str) -> list[Any]:
        vm = self.store.find("vms", vm_id)
        return [views.disk(vm, d) for d in vm["disks"] if d["id"] == disk_id] if vm else []

    def _disk_target(self, inv: Invocation) -> tuple[Record, Record]:
        obj: PSObject = inv.get("VirtualDiskDrive")
        vm = self.store.get("vms", to_str(obj.props["VMId"]), "virtual machine")
        d = next((x for x in vm["disks"] if x["id"] == str(obj.props["ID"])), None)
        if d is None:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the virtual disk drive object with ID {obj.props['ID']}.")
        return vm, d

    def get_disk(self, inv: Invocation) -> Outcome:
        vm = self._vm(inv)
        return Outcome(lambda: [views.disk(vm, d) for d in vm["disks"]])

    def expand_disk(self, inv: Invocation) -> Outcome:
        vm, d = self._disk_target(inv)
        size_mb = inv.get("VirtualHardDiskSizeGB") * 1024
        if size_mb <= d["size_mb"]:
            raise vmm_error(23315, f"The new size {size_mb} MB must be larger than the current size "
                                   f"{d['size_mb']} MB.")
        capacity.admit_change(self.store, vm, {"disks": [{**x, "size_mb": size_mb} if x is d else x
                                                         for x in vm["disks"]]})
        outcome = self._vm_job(inv, vm, "Expand virtual disk drive", vm["status"],
                               {"kind": "expand_disk", "disk": d["id"], "size_mb": size_mb})
        return Outcome(lambda: self._disk_out(vm["id"], d["id"]), outcome.job)

    def remove_disk(self, inv: Invocation) -> Outcome:
        vm, d = self._disk_target(inv)
        if d.get("boot") and vm["status"] != "PowerOff":
            raise vmm_error(INVALID_STATE)
        outcome = self._vm_job(inv, vm, "Remove virtual disk drive", "UnderUpdate",
                               {"kind": "remove_disk", "disk": d["id"]})
        return Outcome(lambda: [], outcome.job)

    # ---- custom properties -----------------------------------------------------------------------
    def get_custom_property(self, inv: Invocation) -> Outcome:
        props = self._select("custom_properties", inv)
        return Outcome(lambda: [views.custom_property(p) for p in props])

    def new_custom_property(self, inv: Invocation) -> Outcome:
        name = inv.get("Name")
        if any(p["name"].lower() == name.lower() for p in self.store.all("custom_properties")):
            raise vmm_error(12703, f"A custom property named {name} already exists.")
        members = inv.get("AddMember", [])
        prop = {"id": new_id(), "name": name, "description": inv.get("Description", ""), "members": members}
        self.store.data["custom_properties"].append(prop)
        return Outcome(lambda: [views.custom_property(prop)])

    def set_custom_value(self, inv: Invocation) -> Outcome:
        target: PSObject = inv.get("InputObject")
        prop = self._ref(inv, "CustomProperty", "custom_properties", "custom property")
        assert prop is not None  # mandatory
        kind, member = {views.VM: ("vms", "VM"), views.TEMPLATE: ("templates", "VMTemplate")}[target.type_name]
        if member not in prop["members"]:
            raise vmm_error(12712, f"The custom property {prop['name']} does not apply to objects of type "
                                   f"{member}. Add the type with Set-SCCustomProperty -AddMember.")
        record = self.store.get(kind, str(target.props["ID"]), member)
        record.setdefault("custom", {})[prop["name"]] = inv.get("Value")
        value = self._custom_value(record, prop)
        return Outcome(lambda: [value])

    def _custom_value(self, record: Record, prop: Record) -> PSObject:
        return PSObject(views.NS + "CustomPropertyValue", Props({
            "Name": prop["name"], "Value": record["custom"][prop["name"]], "CustomProperty": prop["name"],
            "ObjectId": record["id"],
        }), display=record["custom"][prop["name"]])

    def get_custom_value(self, inv: Invocation) -> Outcome:
        target: PSObject = inv.get("InputObject")
        prop = self._ref(inv, "CustomProperty", "custom_properties", "custom property")
        assert prop is not None  # mandatory
        kind = "vms" if target.type_name == views.VM else "templates"
        record = self.store.get(kind, str(target.props["ID"]), target.type_name.rsplit(".", 1)[-1])
        if prop["name"] not in record.get("custom", {}):
            return Outcome(lambda: [])  # VMM returns nothing for a property without a value
        return Outcome(lambda: [self._custom_value(record, prop)])

    def remove_custom_value(self, inv: Invocation) -> Outcome:
        value: PSObject = inv.get("CustomPropertyValue")
        record = self.store.find("vms", str(value.props["ObjectId"])) or self.store.find(
            "templates", str(value.props["ObjectId"]))
        if record is None or value.props["Name"] not in record.get("custom", {}):
            raise vmm_error(NOT_FOUND, "VMM cannot find the custom property value. It may have been removed.")
        del record["custom"][value.props["Name"]]
        return Outcome(lambda: [])

    # ---- the table -------------------------------------------------------------------------------
    def cmdlets(self) -> list[Cmdlet]:
        from herder_dev.scvmm_sim.vmm import guest

        name = Param("Name", convert=string)
        ident = Param("ID", GUID, guid)
        c = self._cmdlet
        power = self._power
        disk_param = _obj("VirtualDiskDrive", views.DISK, mandatory=True, pipeline=True)
        config_param = _obj("VMConfiguration", views.CONFIG, mandatory=True, pipeline=True)
        return [
            c("Get-SCVMMServer", (Param("ComputerName", convert=string, mandatory=True, position=0),
                                  Param("TCPPort", "System.UInt32", integer)), self.get_server),
            c("Get-SCVMHostGroup", (name, ident, _obj("ParentHostGroup", views.HOST_GROUP)),
              self.get_host_group),
            c("Get-SCVMHost", (Param("ComputerName", convert=string, position=0), ident,
                               _obj("VMHostGroup", views.HOST_GROUP)), self.get_host),
            c("Get-SCCloud", (name, ident), self.get_cloud),
            c("Get-SCVMTemplate", (name, ident, _switch("All")), self.get_template),
            c("New-SCVMConfiguration", (_obj("VMTemplate", views.TEMPLATE, mandatory=True),
                                        Param("Name", convert=string, mandatory=True),
                                        _obj("VMHostGroup", views.HOST_GROUP), _obj("Cloud", views.CLOUD)),
              self.new_config),
            c("Set-SCVMConfiguration", (config_param, _obj("VMHost", views.HOST),
                                        Param("VMLocation", convert=string), Param("ComputerName", convert=string)),
              self.set_config),
            c("Update-SCVMConfiguration", (config_param,), self.update_config),
            c("New-SCVirtualMachine", (
                Param("Name", convert=string, mandatory=True), _obj("VMConfiguration", views.CONFIG),
                _obj("VMTemplate", views.TEMPLATE), _obj("VM", views.VM), _obj("VMHostGroup", views.HOST_GROUP),
                _obj("VMHost", views.HOST), Param("Path", convert=string),
                _obj("Cloud", views.CLOUD), Param("CPUCount", "System.Byte", byte),
                Param("MemoryMB", "System.Int32", integer), Param("DynamicMemoryEnabled", "System.Boolean", boolean),
                Param("Description", convert=string), Param("ComputerName", convert=string), *guest.PARAMS,
                CHECKPOINT_TYPE, _switch("StartVM"), *ASYNC,
            ), self.new_vm, exclusive=(
                ("VMConfiguration", "VMTemplate", "VM"), ("VMConfiguration", "VMHostGroup"), ("VM", "VMHostGroup"),
                # The guest OS profile belongs to the template sets; a clone (NewVmFromVm) keeps its guest as it is.
                *(("VM", p) for p in ("ComputerName", *guest.TEMPLATE_ONLY)))),
            c("Get-SCJob", (ident, _switch("All"), _switch("Running")), self.get_job),
            c("Get-SCVirtualMachine", (Param("Name", convert=string, position=0), ident, _switch("All"),
                                       _obj("VMHost", views.HOST), _obj("Cloud", views.CLOUD)), self.get_vm,
              exclusive=(("ID", "Name", "All"),)),
            c("Set-SCVirtualMachine", (
                VM, Param("CPUCount", "System.Byte", byte), Param("MemoryMB", "System.Int32", integer),
                Param("DynamicMemoryEnabled", "System.Boolean", boolean),
                Param("DynamicMemoryMinimumMB", "System.Int32", integer),
                Param("DynamicMemoryMaximumMB", "System.Int32", integer), Param("Description", convert=string),
                Param("Tag", convert=string), Param("Name", convert=string), _obj("Cloud", views.CLOUD),
                CHECKPOINT_TYPE, *ASYNC,
            ), self.set_vm),
            c("Start-SCVirtualMachine", (VM, *ASYNC),
              power("Start virtual machine", ("PowerOff", "Saved"), "Starting", "Running")),
            c("Stop-SCVirtualMachine", (VM, _switch("Force"), _switch("Shutdown"), *ASYNC), self.stop_vm,
              exclusive=(("Force", "Shutdown"),)),
            c("Suspend-SCVirtualMachine", (VM, *ASYNC),
              power("Pause virtual machine", ("Running",), "Pausing", "Paused")),
            c("Resume-SCVirtualMachine", (VM, *ASYNC),
              power("Resume virtual machine", ("Paused",), "Starting", "Running")),
            c("Save-SCVirtualMachine", (VM, *ASYNC),
              power("Save state virtual machine", ("Running",), "Saving", "Saved")),
            c("Remove-SCVirtualMachine", (VM, _switch("Force"), *ASYNC), self.remove_vm),
            c("Read-SCVirtualMachine", (VM, _switch("RunAsynchronously")), self.read_vm),
            c("New-SCVirtualDiskDrive", (
                _obj("VM", views.VM, pipeline=True), _switch("SCSI"), _switch("IDE"),
                Param("Bus", "System.Byte", byte, mandatory=True), Param("LUN", "System.Byte", byte, mandatory=True),
                _switch("Dynamic"), _switch("Fixed"), Param("VirtualHardDiskSizeMB", "System.Int32", integer),
                Param("FileName", convert=string, mandatory=True), *ASYNC,
            ), self.new_disk, exclusive=(("SCSI", "IDE"), ("Dynamic", "Fixed"))),
            c("Get-SCVirtualDiskDrive", (VM,), self.get_disk),
            c("Expand-SCVirtualDiskDrive", (disk_param, Param("VirtualHardDiskSizeGB", "System.Int32", integer,
                                                                mandatory=True), *ASYNC), self.expand_disk),
            c("Remove-SCVirtualDiskDrive", (disk_param, *ASYNC), self.remove_disk),
            c("Get-SCCustomProperty", (name, ident), self.get_custom_property),
            c("New-SCCustomProperty", (Param("Name", convert=string, mandatory=True),
                                       Param("Description", convert=string),
                                       Param("AddMember", "System.String[]",
                                             list_of(enum("Microsoft.VirtualManager.Utils.CustomPropertyObjectType",
                                                          *MEMBER_TYPES)))), self.new_custom_property),
            c("Set-SCCustomPropertyValue", (Param("InputObject", views.VM, of_type(views.VM, views.TEMPLATE),
                                                  mandatory=True, pipeline=True),
                                            _obj("CustomProperty", views.CUSTOM_PROPERTY, mandatory=True),
                                            Param("Value", convert=string, mandatory=True)), self.set_custom_value),
            c("Get-SCCustomPropertyValue", (Param("InputObject", views.VM, of_type(views.VM, views.TEMPLATE),
                                                  mandatory=True, pipeline=True),
                                            _obj("CustomProperty", views.CUSTOM_PROPERTY, mandatory=True)),
              self.get_custom_value),
            c("Remove-SCCustomPropertyValue", (_obj("CustomPropertyValue", views.NS + "CustomPropertyValue",
                                                    mandatory=True, pipeline=True), *ASYNC),
              self.remove_custom_value),
            *self.library.cmdlets(), *self.networks.cmdlets(), *self.config_adapters.cmdlets(),
            *self.guest.cmdlets(), *self.files.cmdlets(),
        ]


def _under(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor + "\\")


def _disk(bus: int, lun: int, size_mb: int, file_name: str, *, dynamic: bool, bus_type: str = "SCSI",
          boot: bool = False) -> Record:
    return {"id": new_id(), "vhd_id": str(uuid.uuid4()), "bus_type": bus_type, "bus": bus, "lun": lun,
            "size_mb": size_mb, "file": file_name, "dynamic": dynamic, "boot": boot}
