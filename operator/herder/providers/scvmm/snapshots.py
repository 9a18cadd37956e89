"""VM checkpoints on SCVMM: New-, Get-, Restore- and Remove-SCVMCheckpoint, each a VMM job.

A checkpoint herder takes carries its ServerSnapshot's UID in its name and description (`marks`) and is found
again by it. VMM has no per-checkpoint type parameter: the VM's CheckpointType decides, so herder sets it first
(`Set-SCVirtualMachine -CheckpointType`): ProductionOnly for a quiesced snapshot (taken inside the guest, or
not at all), Standard otherwise. A checkpoint job started before a crash holds the VM, so a second
New-SCVMCheckpoint is refused (1600, retried) until it ends and the checkpoint is found.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from herder.errors import Conflict, NotFound, NotSupported
from herder.providers import marks
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.scripts import quote, wait_job
from herder.providers.scvmm.vms import SCVMMVMs
from herder.providers.types import ObservedSnapshot, ObservedVM, Operation, SnapshotSpec, TaskRef, TaskResult

_PROJECTION = (
    "[pscustomobject]@{ id = [string]$c.ID; checkpoint = [string]$c.CheckpointID; name = [string]$c.Name; "
    "description = [string]$c.Description; added = $c.AddedTime.ToUniversalTime().ToString('o'); "
    "parent = [string]$c.ParentCheckpointID }"
)


def _vm(server: ObservedVM) -> str:
    missing = quote(f"VM {server.name} ({server.unique_id}) no longer exists (Error ID: 801)")
    return f"$v = Get-SCVirtualMachine -ID {quote(server.ref)}\nif ($null -eq $v) {{ throw {missing} }}"


def _checkpoint(server: ObservedVM, unique_id: str, missing: str) -> str:
    """Sets $c to checkpoint `unique_id` of the VM in $v; `missing` runs when it is not one of the VM's."""
    return (f"$c = Get-SCVMCheckpoint -ID {quote(unique_id)}\n"
            f"if ($null -eq $c -or [string]$c.VMId -ne [string]$v.ID) {{ {missing} }}")


def _parse_time(text: str) -> datetime:
    """A .NET round-trip ('o') time: up to 7 fractional digits, which Python 3.11 does not read."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class SCVMMSnapshots:
    """The `Snapshots` protocol on one SCVMM."""

    def __init__(self, driver: Driver, vms: SCVMMVMs) -> None:
        self._driver = driver
        self._vms = vms

    def _all(self, server: ObservedVM) -> list[dict[str, Any]]:
        body = (f"$v = Get-SCVirtualMachine -ID {quote(server.ref)}\n$result = @()\n"
                f"if ($v) {{ $result = @(foreach ($c in @(Get-SCVMCheckpoint -VM $v)) {{ {_PROJECTION} }}) }}")
        rows = self._driver.run("find", f"read the checkpoints of VM {server.name}", body)
        return list(rows or ())

    def find(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        rows = self._all(vm)
        mine = [row for row in rows if marks.snapshot_owner(str(row["name"]), str(row["description"])) == uid]
        if len(mine) > 1:
            raise Conflict(f"{len(mine)} checkpoints claim ServerSnapshot {uid}: "
                           f"{', '.join(sorted(str(r['id']) for r in mine))}")
        if not mine:
            return None
        row = mine[0]
        parent = next((r for r in rows if r["checkpoint"] and r["checkpoint"] == row["parent"]), None)
        return ObservedSnapshot(
            unique_id=str(row["id"]), name=str(row["name"]), created=_parse_time(str(row["added"])), owner_uid=uid,
            parent_id=str(parent["id"]) if parent else None,
            parent_owner_uid=marks.snapshot_owner(str(parent["name"]), str(parent["description"])) if parent else None)

    def create(self, vm: ObservedVM, spec: SnapshotSpec) -> TaskRef:
        if spec.memory:
            raise NotSupported("SCVMM checkpoints have no memory option: set spec.memory to false (a standard "
                               "checkpoint, quiesce: false, keeps a running VM's state as Hyper-V saves it; a "
                               "production one, quiesce: true, is taken inside the guest without it)")
        mark = quote(f"*{marks.SNAPSHOT_MARK}{spec.uid}*")
        kind = quote("ProductionOnly" if spec.quiesce else "Standard")
        what = f"checkpoint VM {vm.name}"
        body = "\n".join([
            _vm(vm),
            f"$found = @(Get-SCVMCheckpoint -VM $v | Where-Object {{ [string]$_.Description -like {mark} }})",
            "if ($found.Count -gt 0) { $result = @{ done = [string]$found[0].ID } }",
            "else {",
            "$job = $null",
            f"if ([string]$v.CheckpointType -ne {kind}) {{ $v = Set-SCVirtualMachine -VM $v -CheckpointType {kind} "
            "-RunAsynchronously; $job = $v.MostRecentTask }",
            wait_job("job", self._driver.job_timeout, f"set the checkpoint type of VM {vm.name}"),
            "$v = Get-SCVirtualMachine -ID $v.ID",
            f"$null = New-SCVMCheckpoint -VM $v -Name {quote(marks.snapshot_name(spec.label, spec.uid))} "
            f"-Description {quote(marks.snapshot_description(spec.uid, spec.description))} -RunAsynchronously",
            "$result = @{ job = [string](Get-SCVirtualMachine -ID $v.ID).MostRecentTask.ID } }",
        ])
        found = self._driver.run("snapshot", what, body)
        if found.get("done"):
            return TaskRef.nothing_to_do(Operation.SNAPSHOT, str(found["done"]))
        return TaskRef(str(found["job"]), Operation.SNAPSHOT)

    def revert(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        missing = quote(f"checkpoint {unique_id} of VM {vm.name} no longer exists (Error ID: 801)")
        body = "\n".join([
            _vm(vm), _checkpoint(vm, unique_id, f"throw {missing}"),
            "$null = Restore-SCVMCheckpoint -VMCheckpoint $c -RunAsynchronously",
            "$result = [string](Get-SCVirtualMachine -ID $v.ID).MostRecentTask.ID",
        ])
        job = self._driver.run("revert", f"restore VM {vm.name} to checkpoint {unique_id}", body)
        return TaskRef(str(job), Operation.REVERT)

    def remove(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        body = "\n".join([
            f"$v = Get-SCVirtualMachine -ID {quote(vm.ref)}",
            "if ($v) {", _checkpoint(vm, unique_id, "$c = $null"),
            "if ($c) { $null = Remove-SCVMCheckpoint -VMCheckpoint $c -RunAsynchronously",
            "$result = [string](Get-SCVirtualMachine -ID $v.ID).MostRecentTask.ID } }",
        ])
        try:
            job = self._driver.run("remove_snapshot", f"remove checkpoint {unique_id} of VM {vm.name}", body)
        except NotFound:  # removed by someone else between our reads
            job = None
        return TaskRef(str(job), Operation.REMOVE_SNAPSHOT) if job else \
            TaskRef.nothing_to_do(Operation.REMOVE_SNAPSHOT)

    def task(self, task: TaskRef) -> TaskResult:
        return self._vms.task(task)
