"""Snapshots against vcsim (patched: tools/patches/vcsim-snapshots.patch), with govc snapshot.tree as the witness:
identity in name and description, a take repeated while its task runs follows that task, a revert brings back
the CPUs and the power state, removal keeps the children."""

from __future__ import annotations

import time
import uuid

import pytest
from vcsim_world import TEMPLATE, Vcsim

from herder.errors import NotFound
from herder.providers.types import (
    ObservedVM,
    PowerState,
    SnapshotSpec,
    TaskRef,
    TaskStatus,
    VCenterPlacement,
    VMChange,
    VMSpec,
)
from herder.providers.vcenter import VCenterProvider

PLACEMENT = VCenterPlacement(cluster="DC0_C0", datastore="LocalDS_0", network="VM Network")


def _wait(provider: VCenterProvider, ref: TaskRef) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = provider.snapshots.task(ref)
        if result.status != TaskStatus.RUNNING:
            assert result.status == TaskStatus.SUCCEEDED, result.error
            return
        time.sleep(0.1)
    raise AssertionError(f"task {ref} did not finish")


def _vm(provider: VCenterProvider, name: str) -> ObservedVM:
    spec = VMSpec(uid=str(uuid.uuid4()), name=name, template=f"/DC0/vm/{TEMPLATE}", cpu=2, memory_mib=1024,
                  placement=PLACEMENT, power=PowerState.ON)
    _wait(provider, provider.vms.create(spec))
    found = provider.vms.find(spec.uid)
    assert found is not None
    return found


def test_a_take_repeated_while_its_task_runs_follows_it(vcsim: Vcsim, provider: VCenterProvider) -> None:
    vm = _vm(provider, "snap-once")
    spec = SnapshotSpec(uid=str(uuid.uuid4()), label="before", description="before the upgrade")
    first = provider.snapshots.create(vm, spec)
    assert provider.snapshots.find(vm, spec.uid) is None, "not in the tree until its task ends"
    assert provider.snapshots.create(vm, spec) == first, "a crash's repeat follows the running task"
    _wait(provider, first)
    found = provider.snapshots.find(vm, spec.uid)
    assert found is not None and found.owner_uid == spec.uid and found.power is PowerState.OFF  # no memory
    again = provider.snapshots.create(vm, spec)
    assert again.finished and again.id == f"done:{found.unique_id}"
    tree = vcsim.govc("snapshot.tree", "-vm", "snap-once", "-i", "-d", "-c=false")
    assert tree.count(spec.uid) == 2 and found.unique_id in tree  # in the name and the description, once
    assert "before the upgrade" in tree


def test_revert_brings_back_cpus_and_power_and_remove_keeps_children(vcsim: Vcsim,
                                                                     provider: VCenterProvider) -> None:
    vm = _vm(provider, "snap-back")
    base = SnapshotSpec(uid=str(uuid.uuid4()), label="base", memory=True)
    _wait(provider, provider.snapshots.create(vm, base))
    _wait(provider, provider.vms.set_power(vm, PowerState.OFF))
    _wait(provider, provider.vms.reconfigure(vm, VMChange(cpu=4)))
    child = SnapshotSpec(uid=str(uuid.uuid4()), label="child")
    _wait(provider, provider.snapshots.create(vm, child))
    parent = provider.snapshots.find(vm, base.uid)
    assert parent is not None and parent.power is PowerState.ON
    found_child = provider.snapshots.find(vm, child.uid)
    assert found_child is not None and found_child.parent_id == parent.unique_id
    _wait(provider, provider.snapshots.revert(vm, parent.unique_id))
    assert vcsim.vm_info("snap-back")["runtime"]["powerState"] == "poweredOn"  # taken with memory, running
    assert vcsim.vm_info("snap-back")["config"]["hardware"]["numCPU"] == 2
    _wait(provider, provider.snapshots.remove(vm, parent.unique_id))
    assert provider.snapshots.find(vm, base.uid) is None
    kept = provider.snapshots.find(vm, child.uid)
    assert kept is not None and kept.parent_id is None
    assert provider.snapshots.remove(vm, parent.unique_id).finished
    with pytest.raises(NotFound):
        provider.snapshots.revert(vm, parent.unique_id)
