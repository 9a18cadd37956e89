"""What the inventory keeps of a VM's raw properties: small values, read back into the same ObservedVM."""

from __future__ import annotations

from typing import Any

from pyVmomi import VmomiSupport, vim

from herder.providers.types import PowerState
from herder.providers.vcenter.observe import compact, compact_value, to_server

OWNER_KEY = 101


def _raw() -> dict[str, Any]:
    address = vim.net.IpConfigInfo.IpAddress(ipAddress="10.0.0.5", prefixLength=24)
    nic = vim.vm.GuestInfo.NicInfo(ipAddress=["10.0.0.5", "fe80::1"], macAddress="00:50:56:aa:bb:cc",
                                   deviceConfigId=4000, ipConfig=vim.net.IpConfigInfo(ipAddress=[address]))
    second = vim.vm.GuestInfo.NicInfo(ipAddress=["10.0.1.7"])
    snapshot = vim.vm.SnapshotInfo(rootSnapshotList=[vim.vm.SnapshotTree(
        snapshot=vim.vm.Snapshot("snapshot-1"), childSnapshotList=[vim.vm.SnapshotTree(
            snapshot=vim.vm.Snapshot("snapshot-2"), childSnapshotList=[])])])
    return {"name": "web-1", "config.instanceUuid": "uid-1", "config.template": False,
            "runtime.powerState": "poweredOn", "config.hardware.numCPU": 2, "config.hardware.memoryMB": 2048,
            "guest.ipAddress": "10.0.0.5",
            "guest.net": [nic, second], "snapshot": snapshot, "runtime.host": vim.HostSystem("host-1"),
            "datastore": [vim.Datastore("datastore-1"), vim.Datastore("datastore-2")],
            "resourcePool": vim.ResourcePool("resgroup-1"),
            "config.hardware.device": [vim.vm.device.VirtualE1000(
                key=4000, macAddress="00:50:56:aa:bb:cc",
                backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="VM Network"))],
            "customValue": [vim.CustomFieldsManager.StringValue(key=OWNER_KEY, value="ecs-7"),
                            vim.CustomFieldsManager.StringValue(key=102, value="")]}


NAMES = {"host-1": "esx-1", "datastore-1": "LocalDS_0", "resgroup-1": "Resources"}


def _name_of(obj: Any) -> str:
    return NAMES[obj._moId]


def _holds_pyvmomi_data(value: Any) -> bool:
    if isinstance(value, VmomiSupport.DataObject | VmomiSupport.ManagedObject):
        return True
    if isinstance(value, tuple | list | frozenset):
        return any(_holds_pyvmomi_data(item) for item in value)
    return False


def test_what_is_kept_holds_no_pyvmomi_data_objects_and_reads_the_same() -> None:
    kept = compact(_raw(), _name_of)
    assert not any(_holds_pyvmomi_data(value) for value in kept.values())
    vm = to_server("vm-42", kept, OWNER_KEY)
    assert vm is not None
    assert (vm.unique_id, vm.power, vm.cpu, vm.memory_mib) == ("uid-1", PowerState.ON, 2, 2048)
    assert vm.ip_addresses == ("10.0.0.5", "fe80::1", "10.0.1.7")  # the primary first, each once
    assert vm.owner_uid == "ecs-7"
    assert vm.snapshots == frozenset({"snapshot-1", "snapshot-2"})
    assert (vm.host, vm.datastore, vm.resource_pool) == ("esx-1", "LocalDS_0", "Resources")
    assert [(n.key, n.network, n.mac, n.addresses) for n in vm.nics] == [
        ("4000", "VM Network", "00:50:56:AA:BB:CC", ("10.0.0.5", "fe80::1"))]


def test_a_watch_update_of_one_property_is_kept_in_the_same_form() -> None:
    kept = compact(_raw(), _name_of)
    kept["customValue"] = compact_value("customValue", [vim.CustomFieldsManager.StringValue(key=OWNER_KEY, value="")])
    kept["guest.net"] = compact_value("guest.net", None)
    vm = to_server("vm-42", kept, OWNER_KEY)
    assert vm is not None
    assert (vm.owner_uid, vm.ip_addresses) == (None, ("10.0.0.5",))
