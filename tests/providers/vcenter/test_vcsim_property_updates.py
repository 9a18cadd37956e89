"""vcsim reports VM changes to a PropertyCollector filter as vCenter does (tools/patches/vcsim-property-updates.patch),
and a VM joining or leaving the watched view as vCenter does (tools/patches/vcsim-viewchange-reenter.patch).

Checked with plain pyVmomi, not herder's provider: a WaitForUpdatesEx filter over a ContainerView of every VM
(the shape of herder's inventory watch) on the hardware and custom-field properties, and govc making each change
through the API a person or another tool would use (ReconfigVM_Task, SetField).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl
from vcsim_world import PASSWORD, USERNAME, Vcsim

# What herder's inventory watch and its direct reads follow (herder.providers.vcenter.observe.PROPERTIES).
WATCHED = ["name", "config.hardware.numCPU", "config.hardware.memoryMB", "config.hardware.device",
           "config.cpuHotAddEnabled", "config.memoryHotAddEnabled", "customValue"]
DEADLINE_SECONDS = 10.0


@dataclass
class Watch:
    """One PropertyCollector with one filter, and the VM whose updates the test follows."""

    content: Any
    collector: Any
    vm: Any
    version: str = ""

    def next_objects(self) -> list[Any]:
        """The object updates of the next update set, whatever VM they are of ([] if none arrives within 2 s)."""
        update = self.collector.WaitForUpdatesEx(self.version, vmodl.query.PropertyCollector.WaitOptions(
            maxWaitSeconds=2))
        if update is None:
            return []
        self.version = update.version
        return [obj for filter_set in update.filterSet or () for obj in filter_set.objectSet or ()]

    def poll(self) -> dict[str, Any]:
        """The changes to the VM in the next update set ({} if none arrives within 2 s)."""
        return {change.name: change.val for obj in self.next_objects() if obj.obj == self.vm
                for change in obj.changeSet or ()}

    def drain(self) -> None:
        """Skip what is already there: the initial listing and anything still queued."""
        while self.poll():
            pass

    def wait_for(self, *props: str) -> dict[str, Any]:
        """Poll until every one of `props` has been updated; the latest value of each changed property."""
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            seen |= self.poll()
            if all(prop in seen for prop in props):
                return seen
        missing = [prop for prop in props if prop not in seen]
        raise AssertionError(f"no update of {missing} within {DEADLINE_SECONDS:.0f} s (got {sorted(seen)})")


@pytest.fixture
def watch(vcsim: Vcsim, request: pytest.FixtureRequest) -> Iterator[tuple[Watch, str]]:
    name = f"props-{request.node.name.removeprefix('test_').replace('_', '-')}"[:40]
    vcsim.govc("vm.create", "-on=false", "-c", "1", "-m", "1024", "-disk", "1G", "-net", "VM Network",
               "-pool", "/DC0/host/DC0_C0/Resources", "-ds", "LocalDS_0", name)
    si = SmartConnect(host="127.0.0.1", port=vcsim.port, user=USERNAME, pwd=PASSWORD,
                      sslContext=ssl.create_default_context(cadata=vcsim.ca_pem))
    content = si.RetrieveContent()
    collector = content.propertyCollector.CreatePropertyCollector()
    view = content.viewManager.CreateContainerView(container=content.rootFolder, type=[vim.VirtualMachine],
                                                   recursive=True)
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[
            vmodl.query.PropertyCollector.TraversalSpec(name="view", type=vim.view.ContainerView, path="view")])],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=WATCHED)])
    collector.CreateFilter(spec, partialUpdates=False)
    vm = content.searchIndex.FindByInventoryPath(f"DC0/vm/{name}")
    assert vm is not None
    follow = Watch(content, collector, vm)
    follow.drain()
    try:
        yield follow, name
    finally:
        collector.DestroyPropertyCollector()
        view.DestroyView()
        vcsim.govc("vm.destroy", vm.name)  # its current name: a test may have renamed it
        Disconnect(si)


def _disks(devices: Any) -> list[Any]:
    return [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]


def test_cpu_and_memory_changes_are_reported(vcsim: Vcsim, watch: tuple[Watch, str]) -> None:
    follow, name = watch
    vcsim.govc("vm.change", "-vm", name, "-c", "4", "-m", "2048")
    changes = follow.wait_for("config.hardware.numCPU", "config.hardware.memoryMB")
    assert (changes["config.hardware.numCPU"], changes["config.hardware.memoryMB"]) == (4, 2048)
    vcsim.govc("vm.change", "-vm", name, "-m", "3072")
    assert follow.wait_for("config.hardware.memoryMB")["config.hardware.memoryMB"] == 3072


def test_hot_add_flags_and_name_changes_are_reported(vcsim: Vcsim, watch: tuple[Watch, str]) -> None:
    follow, name = watch
    vcsim.govc("vm.change", "-vm", name, "-cpu-hot-add-enabled=true", "-memory-hot-add-enabled=true")
    changes = follow.wait_for("config.cpuHotAddEnabled", "config.memoryHotAddEnabled")
    assert (changes["config.cpuHotAddEnabled"], changes["config.memoryHotAddEnabled"]) == (True, True)
    vcsim.govc("vm.change", "-vm", name, "-name", f"{name}-renamed")
    assert follow.wait_for("name")["name"] == f"{name}-renamed"


def test_added_and_removed_disks_are_reported(vcsim: Vcsim, watch: tuple[Watch, str]) -> None:
    follow, name = watch
    vcsim.govc("vm.disk.create", "-vm", name, "-name", f"{name}/data", "-size", "1G")
    devices = follow.wait_for("config.hardware.device")["config.hardware.device"]
    assert len(_disks(devices)) == 2
    added = max(_disks(devices), key=lambda d: d.key)
    vcsim.govc("device.remove", "-vm", name, f"disk-{added.controllerKey}-{added.unitNumber}")  # govc's label
    remaining = follow.wait_for("config.hardware.device")["config.hardware.device"]
    assert [d.key for d in _disks(remaining)] == [d.key for d in _disks(devices) if d.key != added.key]


def test_custom_field_values_are_reported(vcsim: Vcsim, watch: tuple[Watch, str]) -> None:
    follow, name = watch
    vcsim.govc("fields.add", "-type", "VirtualMachine", f"{name}-owner")
    vcsim.govc("fields.set", f"{name}-owner", "team-a", f"/DC0/vm/{name}")
    key = next(f.key for f in follow.content.customFieldsManager.field if f.name == f"{name}-owner")
    assert {(v.key, v.value) for v in follow.wait_for("customValue")["customValue"]} == {(key, "team-a")}
    vcsim.govc("fields.set", f"{name}-owner", "team-b", f"/DC0/vm/{name}")
    assert {(v.key, v.value) for v in follow.wait_for("customValue")["customValue"]} == {(key, "team-b")}


def test_a_new_vm_enters_alone_and_a_deleted_one_leaves(vcsim: Vcsim, watch: tuple[Watch, str]) -> None:
    follow, name = watch
    other = f"{name}-2"
    vcsim.govc("vm.create", "-on=false", "-c", "1", "-m", "512", "-net", "VM Network",
               "-pool", "/DC0/host/DC0_C0/Resources", "-ds", "LocalDS_0", other)
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and not seen:
        seen = [(obj.kind, obj.obj._moId) for obj in follow.next_objects()]
    new = follow.content.searchIndex.FindByInventoryPath(f"DC0/vm/{other}")
    assert seen[0] == ("enter", new._moId)
    assert {ref for _, ref in seen} == {new._moId}  # not every VM of the view entered again (then its changes)
    vcsim.govc("vm.destroy", other)
    left: list[tuple[str, str]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and not left:
        left = [(obj.kind, obj.obj._moId) for obj in follow.next_objects()]
    assert left == [("leave", new._moId)]
