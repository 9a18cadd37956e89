"""VM snapshots on vCenter: CreateSnapshot_Task, RevertToSnapshot_Task and RemoveSnapshot_Task.

A snapshot herder takes carries its ServerSnapshot's UID in its name and description (`marks`), and is found
again by walking the VM's snapshot tree. A snapshot task started before a crash is found among the VM's
recent tasks while it runs, and followed instead of starting a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import Conflict, NotFound, ProviderError
from herder.providers import marks
from herder.providers.types import (
    ObservedSnapshot,
    ObservedVM,
    Operation,
    SnapshotSpec,
    TaskRef,
    TaskResult,
)
from herder.providers.vcenter import query, tasks
from herder.providers.vcenter.observe import POWER, snapshot_nodes
from herder.providers.vcenter.session import Session
from herder.providers.vcenter.vms import VCenterVMs
from herder.reasons import Reason

_Snapshot: Any = vim.vm.Snapshot
_Task: Any = vim.Task
# vCenter's descriptionId of a snapshot task on a VM (TaskInfo.descriptionId).
_CREATE_SNAPSHOT = "VirtualMachine.createSnapshot"
_UNFINISHED = ("queued", "running")


def _created(value: Any) -> datetime:
    created: datetime = value
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


class VCenterSnapshots:
    """The `Snapshots` protocol on one vCenter datacenter."""

    def __init__(self, session: Session, vms: VCenterVMs) -> None:
        self._session = session
        self._vms = vms

    def _vm(self, server: ObservedVM) -> Any:
        vm = self._vms.vm_object(server)
        if vm is None:
            raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
        return vm

    def _tree(self, vm: Any) -> tuple[list[tuple[Any, Any]], dict[str, int]]:
        """((tree node, its parent node or None) for every snapshot, {snapshot moref: bytes of its files})."""
        props = query.properties(self._session.content, vm, ["snapshot", "layoutEx"])
        info = props.get("snapshot")
        nodes = list(snapshot_nodes(info.rootSnapshotList if info is not None else ()))
        layout = props.get("layoutEx")
        sizes: dict[str, int] = {}
        if layout is not None:
            files = {f.key: int(f.size or 0) for f in layout.file or ()}
            for entry in layout.snapshot or ():
                keys = {entry.dataKey, getattr(entry, "memoryKey", None)} - {None, -1}
                sizes[str(entry.key._moId)] = sum(files.get(k, 0) for k in keys)
        return nodes, sizes

    @staticmethod
    def _observed(node: Any, parent: Any, sizes: dict[str, int]) -> ObservedSnapshot:
        ref = str(node.snapshot._moId)
        return ObservedSnapshot(
            unique_id=ref, name=str(node.name), created=_created(node.createTime),
            owner_uid=marks.snapshot_owner(str(node.name), str(node.description or "")),
            parent_id=str(parent.snapshot._moId) if parent is not None else None,
            parent_owner_uid=marks.snapshot_owner(str(parent.name), str(parent.description or ""))
            if parent is not None else None,
            power=POWER.get(str(node.state)), size_bytes=sizes.get(ref) or None)

    def _mine(self, vm: Any, uid: str) -> ObservedSnapshot | None:
        nodes, sizes = self._tree(vm)
        found = [self._observed(node, parent, sizes) for node, parent in nodes
                 if marks.snapshot_owner(str(node.name), str(node.description or "")) == uid]
        if len(found) > 1:
            raise Conflict(f"{len(found)} snapshots claim ServerSnapshot {uid}: "
                           f"{', '.join(sorted(s.unique_id for s in found))}")
        return found[0] if found else None

    # -- the protocol ----------------------------------------------------------------------------------

    def find(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        def run() -> ObservedSnapshot | None:
            located = self._vms.vm_object(vm)
            return self._mine(located, uid) if located is not None else None

        return self._session.call(f"find snapshot {uid} of VM {vm.name}", run)

    def create(self, vm: ObservedVM, spec: SnapshotSpec) -> TaskRef:
        def run() -> TaskRef:
            located = self._vm(vm)
            made = self._mine(located, spec.uid)
            if made is not None:
                return TaskRef.nothing_to_do(Operation.SNAPSHOT, made.unique_id)
            running = self._running_snapshot_task(located)
            if running is not None:
                # One started before a crash, perhaps ours: follow it, then look again.
                return TaskRef(running, Operation.SNAPSHOT)
            task = located.CreateSnapshot_Task(
                name=marks.snapshot_name(spec.label, spec.uid),
                description=marks.snapshot_description(spec.uid, spec.description),
                memory=spec.memory, quiesce=spec.quiesce)
            return TaskRef(str(task._moId), Operation.SNAPSHOT)

        return self._session.call(f"snapshot VM {vm.name}", run)

    def _running_snapshot_task(self, vm: Any) -> str | None:
        for task in query.properties(self._session.content, vm, ["recentTask"]).get("recentTask") or ():
            try:
                info = query.properties(self._session.content, task, ["info"]).get("info")
            except vmodl.fault.ManagedObjectNotFound:
                continue
            if info is not None and info.descriptionId == _CREATE_SNAPSHOT and str(info.state) in _UNFINISHED:
                return str(task._moId)
        return None

    def _snapshot_of(self, located: Any, unique_id: str) -> Any:
        """The snapshot `unique_id`, checked to be one of the VM's; None when it is gone."""
        snapshot = _Snapshot(unique_id, self._session.stub)
        try:
            owner = query.properties(self._session.content, snapshot, ["vm"]).get("vm")
        except vmodl.fault.ManagedObjectNotFound:
            return None
        if owner is None or str(owner._moId) != str(located._moId):
            return None
        return snapshot

    def revert(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        def run() -> TaskRef:
            snapshot = self._snapshot_of(self._vm(vm), unique_id)
            if snapshot is None:
                raise NotFound(f"snapshot {unique_id} of VM {vm.name} no longer exists")
            return TaskRef(str(snapshot.RevertToSnapshot_Task(suppressPowerOn=False)._moId), Operation.REVERT)

        return self._session.call(f"revert VM {vm.name} to snapshot {unique_id}", run)

    def remove(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        def run() -> TaskRef:
            located = self._vms.vm_object(vm)
            snapshot = self._snapshot_of(located, unique_id) if located is not None else None
            if snapshot is None:
                return TaskRef.nothing_to_do(Operation.REMOVE_SNAPSHOT)
            try:
                task = snapshot.RemoveSnapshot_Task(removeChildren=False, consolidate=True)
            except vmodl.fault.ManagedObjectNotFound:
                return TaskRef.nothing_to_do(Operation.REMOVE_SNAPSHOT)
            return TaskRef(str(task._moId), Operation.REMOVE_SNAPSHOT)

        return self._session.call(f"remove snapshot {unique_id} of VM {vm.name}", run)

    def task(self, task: TaskRef) -> TaskResult:
        return tasks.read(self._session, task)
