"""Private clouds: New-, Set- and Remove-SCCloud, their capacity (Get-/Set-SCCloudCapacity) and usage
(Get-SCCloudUsage). Get-SCCloud is with the inventory cmdlets. Admission against capacity is in capacity.py.

Sources: the VMM cmdlet reference (New-SCCloud, Set-SCCloud, Remove-SCCloud, Get-SCCloudCapacity,
Set-SCCloudCapacity, Get-SCCloudUsage) and the Cloud and CloudCapacity entities of the SPF/VMM reference.
A job group collects Set-SCCloudCapacity -JobGroup (and Set-SCCloud -JobGroup without -Cloud) for the New-SCCloud
or Set-SCCloud -Cloud that ends the group, as the reference's examples show.

The docs are silent on these; the simulator's choices: cloud names are unique; Get-SCCloudCapacity without
-Cloud returns every cloud's capacity; Set-SCCloudCapacity returns the capacity; a cloud is changed and removed
when its job completes; the user-role parameter sets of Get-SCCloudUsage are not modelled.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    ConversionError,
    Invocation,
    Param,
    boolean,
    guid,
    integer,
    list_of,
    of_type,
    string,
)
from herder_dev.scvmm_sim.ps.values import Props, PSObject
from herder_dev.scvmm_sim.vmm import capacity, effects, views
from herder_dev.scvmm_sim.vmm.cmdlets import GUID, Outcome, Vmm, _obj, _switch, _under
from herder_dev.scvmm_sim.vmm.errors import vmm_error
from herder_dev.scvmm_sim.vmm.state import Record, Store, new_id

# Not in Microsoft's public docs (the VMM error catalogue is not published); the simulator's choice.
CLOUD_NAME_TAKEN = 13253
CLOUD_IN_USE = 13254

CAPACITY = views.NS + "CloudCapacity"
USAGE = views.NS + "CloudUsage"
HOST_GROUPS = f"System.Collections.Generic.List`1[{views.HOST_GROUP}]"


def uint32(value: Any) -> int:
    number = integer(value)
    if not 0 <= number <= 0xFFFFFFFF:
        raise ConversionError(f'Cannot convert value "{number}" to type "System.UInt32". Error: "Value was either '
                              'too large or too small for a UInt32."')
    return number


def capacity_view(cloud: Record) -> PSObject:
    props: dict[str, Any] = {"ID": uuid.UUID(capacity.capacity_id(cloud)), "CloudId": uuid.UUID(cloud["id"]),
                             "Cloud": cloud["name"]}
    for value, unlimited, key, _ in capacity.DIMENSIONS:
        limit = capacity.limits(cloud)[key]
        props[value], props[unlimited] = limit["value"], limit["unlimited"]
    return PSObject(CAPACITY, Props(props), display=cloud["name"])


def _set_cloud(store: Store, effect: Record) -> None:
    cloud = store.find("clouds", effect["cloud"])
    if cloud is not None:
        _apply(cloud, effect["settings"])


def _remove_cloud(store: Store, effect: Record) -> None:
    store.data["clouds"] = [c for c in store.data["clouds"] if c["id"] != effect["cloud"]]


def _merge(base: Record, extra: Record) -> Record:
    """Two sets of cloud settings as one: host group lists add up, capacity limits merge, the rest is replaced."""
    merged = {**base, **extra}
    for key in ("add_host_groups", "remove_host_groups"):
        merged[key] = [*base.get(key, []), *extra.get(key, [])]
    merged["capacity"] = {k: {**base.get("capacity", {}).get(k, {}), **extra.get("capacity", {}).get(k, {})}
                          for k in {*base.get("capacity", {}), *extra.get("capacity", {})}}
    return merged


def _apply(cloud: Record, settings: Record) -> None:
    """Settings of Set-SCCloud and Set-SCCloudCapacity: name, description, host groups, capacity limits."""
    for key in ("name", "description"):
        if key in settings:
            cloud[key] = settings[key]
    groups = [g for g in cloud["host_groups"] if g not in settings.get("remove_host_groups", [])]
    cloud["host_groups"] = groups + [g for g in settings.get("add_host_groups", []) if g not in groups]
    stored = cloud.setdefault("capacity", {})
    for key, limit in settings.get("capacity", {}).items():
        stored[key] = {**stored.get(key, {}), **limit}


effects.register("set_cloud", _set_cloud)
effects.register("remove_cloud", _remove_cloud)


class Clouds(Vmm):
    def _pending(self, inv: Invocation) -> Record:
        """The settings queued under the call's -JobGroup, taken out of the queue."""
        if not inv.has("JobGroup"):
            return {}
        queued: Record = self.store.data.setdefault("cloud_job_groups", {}).pop(str(inv.get("JobGroup")), {})
        return queued

    def _queue(self, inv: Invocation, settings: Record) -> None:
        queues = self.store.data.setdefault("cloud_job_groups", {})
        queues[str(inv.get("JobGroup"))] = _merge(queues.get(str(inv.get("JobGroup")), {}), settings)

    def _own_settings(self, inv: Invocation) -> Record:
        settings: Record = {key: inv.get(param) for param, key in (("Name", "name"), ("Description", "description"))
                            if inv.has(param)}
        for param, key in (("AddVMHostGroup", "add_host_groups"), ("RemoveVMHostGroup", "remove_host_groups"),
                           ("VMHostGroup", "add_host_groups")):
            if inv.has(param):
                settings[key] = [str(g.props["Path"]) for g in inv.get(param)]
        return settings

    def _unique(self, name: str, cloud_id: str | None = None) -> None:
        if any(c["name"].lower() == name.lower() and c["id"] != cloud_id for c in self.store.all("clouds")):
            raise vmm_error(CLOUD_NAME_TAKEN, f"A private cloud named {name} already exists.")

    def _cloud_job(self, inv: Invocation, cloud: Record, title: str, effect: Record) -> Outcome:
        self.store.ensure_idle(cloud["id"], cloud["name"])
        job = self._job(inv, cloud, effect, title)
        return Outcome(lambda: [views.cloud(self.store, c) for c in self.store.all("clouds")
                                if c["id"] == cloud["id"]], job)

    def new_cloud(self, inv: Invocation) -> Outcome:
        self._unique(inv.get("Name"))
        cloud = {"id": new_id(), "name": inv.get("Name"), "description": "", "host_groups": []}
        _apply(cloud, _merge(self._pending(inv), self._own_settings(inv)))  # this call's own settings win
        self.store.data["clouds"].append(cloud)
        return self._cloud_job(inv, cloud, "Create new private cloud", {"kind": "none"})

    def set_cloud(self, inv: Invocation) -> Outcome:
        settings = self._own_settings(inv)
        if not inv.has("Cloud"):
            if not inv.has("JobGroup"):
                raise vmm_error(12406, "Specify -Cloud, or -JobGroup to change the private cloud that New-SCCloud "
                                       "creates with the same job group.")
            self._queue(inv, settings)
            return Outcome(lambda: [])
        cloud = self.store.get("clouds", str(inv.get("Cloud").props["ID"]), "cloud")
        settings = _merge(self._pending(inv), settings)
        if "name" in settings:
            self._unique(settings["name"], cloud["id"])
        for group in settings["remove_host_groups"]:
            placed = [v["name"] for v in self.store.all("vms") if v["cloud"] == cloud["id"]
                      and _under(v["host_group"], group)]
            if placed:
                raise vmm_error(CLOUD_IN_USE, f"Host group {group} cannot leave private cloud {cloud['name']}: "
                                              f"its virtual machines {', '.join(placed)} are placed there.")
        return self._cloud_job(inv, cloud, "Change properties of private cloud",
                               {"kind": "set_cloud", "cloud": cloud["id"], "settings": settings})

    def remove_cloud(self, inv: Invocation) -> Outcome:
        cloud = self.store.get("clouds", str(inv.get("Cloud").props["ID"]), "cloud")
        placed = [v["name"] for v in self.store.all("vms") if v["cloud"] == cloud["id"]]
        if placed:
            raise vmm_error(CLOUD_IN_USE, f"The private cloud {cloud['name']} cannot be removed: virtual machines "
                                          f"{', '.join(placed)} are placed in it.")
        outcome = self._cloud_job(inv, cloud, "Remove private cloud", {"kind": "remove_cloud", "cloud": cloud["id"]})
        return Outcome(lambda: [], outcome.job)

    def get_capacity(self, inv: Invocation) -> Outcome:
        clouds = [self.store.get("clouds", str(inv.get("Cloud").props["ID"]), "cloud")] if inv.has("Cloud") \
            else self.store.all("clouds")
        return Outcome(lambda: [capacity_view(c) for c in clouds])

    def set_capacity(self, inv: Invocation) -> Outcome:
        limits: Record = {}
        for value, unlimited, key, _ in capacity.DIMENSIONS:
            if inv.has(value):
                limits.setdefault(key, {})["value"] = inv.get(value)
            if inv.has(unlimited):
                limits.setdefault(key, {})["unlimited"] = inv.get(unlimited)
        if not inv.has("CloudCapacity"):  # the JobGroupParamSet: for the cloud cmdlet that ends the group
            self._queue(inv, {"capacity": limits})
            return Outcome(lambda: [])
        cloud = self.store.get("clouds", str(inv.get("CloudCapacity").props["CloudId"]), "cloud")
        outcome = self._cloud_job(inv, cloud, "Change cloud capacity", {
            "kind": "set_cloud", "cloud": cloud["id"], "settings": {"capacity": limits}})
        return Outcome(lambda: [capacity_view(c) for c in self.store.all("clouds") if c["id"] == cloud["id"]],
                       outcome.job)

    def get_usage(self, inv: Invocation) -> Outcome:
        cloud = self.store.get("clouds", str(inv.get("Cloud").props["ID"]), "cloud")

        def out() -> list[Any]:
            used = capacity.usage(self.store, cloud["id"])
            props = {prop: math.ceil(used[key]) for _, _, key, prop in capacity.DIMENSIONS}
            return [PSObject(USAGE, Props({"Cloud": cloud["name"], **props}), display=cloud["name"])]

        return Outcome(out)

    def cmdlets(self) -> list[Cmdlet]:
        c = self._cmdlet
        run_async, job_group = _switch("RunAsynchronously"), Param("JobGroup", GUID, guid)
        cloud = Param("Cloud", views.CLOUD, of_type(views.CLOUD), position=0, pipeline=True)
        groups = list_of(of_type(views.HOST_GROUP))
        dimensions = [p for value, unlimited, _, _ in capacity.DIMENSIONS
                      for p in (Param(value, "System.UInt32", uint32), Param(unlimited, "System.Boolean", boolean))]
        return [
            c("New-SCCloud", (
                Param("Name", convert=string, mandatory=True, position=0), Param("Description", convert=string),
                Param("VMHostGroup", views.HOST_GROUP + "[]", groups, mandatory=True), job_group, run_async,
            ), self.new_cloud),
            c("Set-SCCloud", (
                cloud, Param("Name", convert=string), Param("Description", convert=string),
                Param("AddVMHostGroup", HOST_GROUPS, groups), Param("RemoveVMHostGroup", HOST_GROUPS, groups),
                job_group, run_async,
            ), self.set_cloud),
            c("Remove-SCCloud", (Param("Cloud", views.CLOUD, of_type(views.CLOUD), mandatory=True, position=0,
                                       pipeline=True), job_group, run_async), self.remove_cloud),
            c("Get-SCCloudCapacity", (cloud,), self.get_capacity),
            c("Set-SCCloudCapacity", (
                Param("CloudCapacity", CAPACITY, of_type(CAPACITY), pipeline=True), *dimensions, job_group,
                run_async,
            ), self.set_capacity, exclusive=(("CloudCapacity", "JobGroup"),),
              one_of=(("CloudCapacity", "JobGroup"),)),
            c("Get-SCCloudUsage", (_obj("Cloud", views.CLOUD, mandatory=True, pipeline=True),
                                   _switch("ReturnPerUserRole")), self.get_usage),
        ]
