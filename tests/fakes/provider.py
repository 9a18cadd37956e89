"""An in-memory `Provider` for unit tests of the sync paths (after vm-operator's `pkg/providers/fake`).

It keeps the contract `herder.providers.base` documents, and none of a backend's mechanics. A small
vCenter-like world: datacenter DC0, cluster DC0_C0, datastore LocalDS_0, network "VM Network", folder vm and
the template ubuntu-22.04-tmpl.

- A create stamps the VM with the ECS's UID (its unique ID, as vCenter's instance UUID). The VM exists, busy,
  from the moment the create is accepted, so a create repeated after a crash finds it instead of cloning
  again. `find` goes by the recorded ref, then by identity (unique ID, then owner mark); two matches are a
  Conflict.
- Every change is a task that runs until the test ends it (`tasks.succeed`, `tasks.fail`), and its effect
  lands only then; a call with nothing to do returns `TaskRef.nothing_to_do`. A failed create leaves its
  half-made VM behind. `tasks.quick` ends every new task at once.
- The inventory is a cache fed by every change (the watch), with subscribers and `refresh`. As on vcsim, an
  owner mark (adopt, release) is not reported by the feed: `refresh` reads it. `inventory.held` makes the
  cache go stale until `catch_up`.
- `calls` lists every call that reaches the backend (cache reads are not calls); `fail_next` makes the next
  call(s) of one member raise a given HerderError.

- Snapshots keep the VM's CPU, memory, disks and power (off unless taken with memory); a revert brings them
  back. Each VM's snapshot IDs are part of what the feed reports. `snapshots.memory_supported = False` makes
  the fake refuse memory snapshots as SCVMM does.

Tests change the backend behind herder's back with `vms.add`, `vms.drift`, `vms.vanish` and
`snapshots.vanish`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from herder.api.ecs import PowerState
from herder.errors import (
    Conflict,
    HerderError,
    ImportFailed,
    InUse,
    NotFound,
    NotSupported,
    OutsideZone,
    ProviderError,
    Refused,
)
from herder.providers import marks
from herder.providers.types import (
    AddressPool,
    Credentials,
    EndpointInfo,
    NICSpec,
    ObservedDisk,
    ObservedNIC,
    ObservedPool,
    ObservedSnapshot,
    ObservedVM,
    Operation,
    Placement,
    PoolSpec,
    Relocation,
    SCVMMPlacement,
    SnapshotSpec,
    TaskRef,
    TaskResult,
    TaskStatus,
    TemplateInfo,
    VCenterPlacement,
    VMChange,
    VMLocation,
    VMSpec,
    ZoneCapacity,
    ZoneMembers,
)
from herder.reasons import Reason

GIB = 1024**3
DATACENTER = "DC0"
CLUSTER = "DC0_C0"
HOST = "DC0_C0_H0"
DATASTORE = "LocalDS_0"
NETWORK = "VM Network"
FOLDER = "vm"
TEMPLATE = "ubuntu-22.04-tmpl"
ROOT_POOL = "Resources"
Callback = Callable[[ObservedVM | None, str], None]


@dataclass
class FakeTask:
    operation: Operation
    about: str  # the ref of the VM or template it works on
    on_success: Callable[[], str | None]  # its effect; returns the ref of what it made or changed
    on_failure: Callable[[], object] | None = None
    status: TaskStatus = TaskStatus.RUNNING
    error: str | None = None
    result_ref: str | None = None


class FakeTasks:
    """The backend's tasks, shared by VMs and images."""

    def __init__(self) -> None:
        self._tasks: dict[str, FakeTask] = {}
        self._ids = itertools.count(1)
        self.quick = False  # every new task ends at once, successfully (a fast backend)

    def start(self, operation: Operation, about: str, on_success: Callable[[], str | None],
              on_failure: Callable[[], object] | None = None, *, refused: str | None = None) -> TaskRef:
        """A new task; `refused`: the backend fails it at once with this error."""
        task_id = f"task-{next(self._ids)}"
        self._tasks[task_id] = FakeTask(operation, about, on_success, on_failure)
        if refused is not None:
            self.fail(task_id, refused)
        elif self.quick:
            self.succeed(task_id)
        return TaskRef(task_id, operation)

    def running(self, about: str | None = None, operation: Operation | None = None) -> list[TaskRef]:
        return [TaskRef(task_id, task.operation) for task_id, task in self._tasks.items()
                if task.status is TaskStatus.RUNNING and about in {None, task.about}
                and operation in {None, task.operation}]

    def _running(self, task_id: str | None) -> FakeTask:
        """The task `task_id`, or the only running one; it must be running."""
        if task_id is None:
            (only,) = self.running()
            task_id = only.id
        task = self._tasks[task_id]
        assert task.status is TaskStatus.RUNNING, f"task {task_id} already ended ({task.status})"
        return task

    def succeed(self, task_id: str | None = None) -> None:
        """End a task successfully: its effect lands now."""
        task = self._running(task_id)
        task.status, task.result_ref = TaskStatus.SUCCEEDED, task.on_success()

    def fail(self, task_id: str | None, error: str) -> None:
        task = self._running(task_id)
        task.status, task.error = TaskStatus.FAILED, error
        if task.on_failure is not None:
            task.on_failure()

    def read(self, ref: TaskRef) -> TaskResult:
        if ref.finished:
            return ref.finished_result()
        task = self._tasks.get(ref.id)
        if task is None:
            return TaskResult(TaskStatus.UNKNOWN)
        return TaskResult(task.status, task.error, task.result_ref)


class FakeEndpoint:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self.closed = False
        self.silent_for: float | None = None  # set: the backend has stopped answering for that long

    def unanswered(self) -> float | None:
        return self.silent_for

    def info(self) -> EndpointInfo:
        self._fake.call("endpoint.info")
        return EndpointInfo(version="8.0.3", instance_uuid="fake-vcenter-uuid", product="fake vCenter")

    def close(self) -> None:
        self.closed = True


def _one(matches: list[ObservedVM], what: str) -> ObservedVM | None:
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} VMs claim {what}: {', '.join(sorted(vm.ref for vm in matches))}")
    return matches[0] if matches else None


def _leaf(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


class FakeVMs:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self._vms: dict[str, ObservedVM] = {}  # ref -> the VM as the backend has it
        self._refs = itertools.count(100)
        self._disk_keys = itertools.count(1000)  # for disks a reconfigure adds
        self.refuse_moves: list[str] = []  # the next moves the backend refuses when asked, with these messages
        self._nic_keys = itertools.count(4000)
        self.pools: dict[str, AddressPool] = {}  # the static IP pool of a network, as tests set it

    # -- the test's hand on the backend ---------------------------------------------------------------------
    def add(self, name: str, *, unique_id: str | None = None, owner_uid: str | None = None,
            power: PowerState = PowerState.ON, cpu: int = 2, memory_mib: int = 4096,
            resource_pool: str = ROOT_POOL) -> ObservedVM:
        """A VM made outside herder (or a stray copy of one)."""
        ref = f"vm-{next(self._refs)}"
        identity = unique_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake:{ref}"))
        vm = ObservedVM(unique_id=identity, ref=ref, name=name, power=power, cpu=cpu,
                        memory_mib=memory_mib, owner_uid=owner_uid, host=HOST, datastore=DATASTORE,
                        resource_pool=resource_pool, disks=(ObservedDisk("disk-0", 10 * GIB, is_os_disk=True),))
        self._store(vm)
        return vm

    def drift(self, ref: str, **fields: Any) -> ObservedVM:
        """Change the VM out of band (power, cpu, memory_mib, disks, ...); the feed reports it."""
        vm = replace(self._vms[ref], **fields)
        self._store(vm)
        return vm

    def vanish(self, ref: str) -> None:
        """Delete the VM out of band; the feed reports it gone."""
        vm = self._vms.pop(ref)
        for snapshot in self._fake.snapshots.of(ref):  # they go with it
            self._fake.snapshots.vanish(snapshot.unique_id)
        self._fake.inventory.changed(vm.unique_id, None)

    def get(self, ref: str) -> ObservedVM | None:
        return self._vms.get(ref)

    def all(self) -> list[ObservedVM]:
        return list(self._vms.values())

    def _store(self, vm: ObservedVM, *, reported: bool = True) -> None:
        self._vms[vm.ref] = vm
        if reported:
            self._fake.inventory.changed(vm.unique_id, vm)

    def _change(self, ref: str, **fields: Any) -> str | None:
        """A task's effect on its VM, if the VM is still there."""
        vm = self._vms.get(ref)
        if vm is not None:
            self._store(replace(vm, **fields))
        return ref

    def current(self, vm: ObservedVM) -> ObservedVM | None:
        """The VM `vm` stands for: by ref, re-checked by unique ID so a stale ref never hits another VM."""
        known = self._vms.get(vm.ref)
        if known is not None and known.unique_id == vm.unique_id:
            return known
        return _one([v for v in self._vms.values() if v.unique_id == vm.unique_id], f"unique ID {vm.unique_id}")

    def _existing(self, vm: ObservedVM) -> ObservedVM:
        found = self.current(vm)
        if found is None:
            raise ProviderError(f"VM {vm.name} ({vm.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
        return found

    # -- the Protocol ---------------------------------------------------------------------------------------
    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        self._fake.call("vms.find")
        known = self._vms.get(known_ref or "")
        if known is not None and uid in {known.unique_id, known.owner_uid}:
            return known
        return (_one([v for v in self._vms.values() if v.unique_id == uid], f"instance UUID {uid}")
                or _one([v for v in self._vms.values() if v.owner_uid == uid], f"ECS {uid}"))

    def locate(self, vm: ObservedVM) -> VMLocation:
        """Every VM of the fake sits in the zone's cluster and folder."""
        self._fake.call("vms.locate")
        if vm.ref not in self._vms:
            raise NotFound(f"VM {vm.ref} is gone")
        return VMLocation(host=HOST, folder=f"/{DATACENTER}/{FOLDER}", vm_root=f"/{DATACENTER}/vm", compute=CLUSTER)

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        self._fake.call("vms.find_by_unique_id")
        return _one([v for v in self._vms.values() if v.unique_id == unique_id], f"instance UUID {unique_id}")

    def create(self, spec: VMSpec) -> TaskRef:
        self._fake.call("vms.create")
        self._fake.zones.check(spec.placement)
        template = self._fake.images.lookup(spec.template)
        if template is None:
            raise NotFound(f"template {spec.template!r} not found")
        same_name = next((v for v in self._vms.values() if v.name == spec.name), None)
        if same_name is not None:  # an earlier create of this ECS: follow it, or it is done
            if same_name.unique_id != spec.uid:
                raise Conflict(f"a VM named {spec.name!r} ({same_name.ref}) already exists with instance UUID "
                               f"{same_name.unique_id}, not this ECS's {spec.uid}")
            running = self._fake.tasks.running(same_name.ref, Operation.CREATE)
            return running[0] if running else TaskRef.nothing_to_do(Operation.CREATE, same_name.ref)
        where = spec.placement
        assert isinstance(where, VCenterPlacement)
        ref = f"vm-{next(self._refs)}"
        os_disk = ObservedDisk("disk-0", spec.os_disk_bytes or template.size_bytes, is_os_disk=True)
        data = tuple(ObservedDisk(f"disk-{i}", d.size_bytes, name=d.name) for i, d in enumerate(spec.data_disks, 1))
        nics = tuple(self._nic(n) for n in spec.networks or (NICSpec(where.network or NETWORK),))
        self._store(ObservedVM(
            unique_id=spec.uid, ref=ref, name=spec.name, power=PowerState.OFF, cpu=spec.cpu,
            memory_mib=spec.memory_mib, disks=(os_disk, *data), host=where.host or HOST, datastore=where.datastore,
            resource_pool=_leaf(where.resource_pool or ROOT_POOL), busy=True, nics=nics,
            hostname=spec.guest.hostname or None))
        # A failed create leaves its half-made VM behind.
        return self._fake.tasks.start(Operation.CREATE, ref, lambda: self._change(ref, busy=False, power=spec.power),
                                      lambda: self._change(ref, busy=False))

    def _nic(self, nic: NICSpec, key: str | None = None) -> ObservedNIC:
        """A NIC as made (or changed, keeping its `key`): a MAC of its own unless one is asked for."""
        key = key or f"nic-{next(self._nic_keys)}"
        return ObservedNIC(key, nic.network, nic.mac or f"00:50:56:00:{int(key[4:]) // 256 % 256:02X}:"
                           f"{int(key[4:]) % 256:02X}", nic.vlan, (nic.address.split("/")[0],) if nic.address else ())

    def address_pools(self, nics: tuple[NICSpec, ...]) -> tuple[AddressPool | None, ...]:
        self._fake.call("vms.address_pools")
        return tuple(self.pools.get(nic.network) if nic.static else None for nic in nics)

    def task(self, task: TaskRef) -> TaskResult:
        self._fake.call("vms.task")
        return self._fake.tasks.read(task)

    def reconfigure(self, vm: ObservedVM, change: VMChange) -> TaskRef:
        self._fake.call("vms.reconfigure")
        if change.is_empty():
            return TaskRef.nothing_to_do(Operation.RECONFIGURE, vm.ref)
        current = self._existing(vm)
        running = current.power is not PowerState.OFF
        refused = ("CPU and memory change on a running VM only by hot-add, and never down"
                   if running and _needs_hot_add(current, change) else
                   "NICs are added or removed on a running VM only by hot-plug"
                   if running and (change.add_nics or change.remove_nics) and not current.nic_hot_plug else None)
        return self._fake.tasks.start(Operation.RECONFIGURE, current.ref,
                                      lambda: self._reconfigured(current.ref, change), refused=refused)

    def _reconfigured(self, ref: str, change: VMChange) -> str | None:
        vm = self._vms.get(ref)
        if vm is None:
            return ref
        grown = dict(change.grow_disks)
        kept = [replace(d, size_bytes=grown.get(d.key, d.size_bytes)) for d in vm.disks
                if d.key not in change.remove_disks]
        added = [ObservedDisk(f"disk-{next(self._disk_keys)}", d.size_bytes, name=d.name) for d in change.add_disks]
        moved = dict(change.change_nics)
        nics = [self._nic(moved[n.key], n.key) if n.key in moved else n for n in vm.nics
                if n.key not in change.remove_nics]
        nics += [self._nic(n) for n in change.add_nics]
        return self._change(ref, cpu=change.cpu or vm.cpu, memory_mib=change.memory_mib or vm.memory_mib,
                            disks=(*kept, *added), nics=tuple(nics))

    def set_power(self, vm: ObservedVM, power: PowerState, *, graceful: bool = False) -> TaskRef:
        self._fake.call("vms.set_power")
        current = self._existing(vm)
        if power is PowerState.OFF:
            operation = Operation.GUEST_SHUTDOWN if graceful and current.power is PowerState.ON \
                else Operation.POWER_OFF
        elif power is PowerState.ON or current.power is not PowerState.ON:
            power, operation = PowerState.ON, Operation.POWER_ON  # suspending needs a running VM: on first
        else:
            operation = Operation.SUSPEND
        if current.power is power:
            return TaskRef.nothing_to_do(operation, current.ref)
        return self._fake.tasks.start(operation, current.ref, lambda: self._change(current.ref, power=power))

    def destroy(self, vm: ObservedVM) -> TaskRef:
        self._fake.call("vms.destroy")
        current = self.current(vm)
        if current is None:
            return TaskRef.nothing_to_do(Operation.DESTROY)
        running = self._fake.tasks.running(current.ref, Operation.DESTROY)
        if running:
            return running[0]

        def destroyed() -> str | None:
            for snapshot in self._fake.snapshots.of(current.ref):  # they go with it
                self._fake.snapshots.vanish(snapshot.unique_id)
            gone = self._vms.pop(current.ref, None)
            if gone is not None:
                self._fake.inventory.changed(gone.unique_id, None)
            return None

        return self._fake.tasks.start(Operation.DESTROY, current.ref, destroyed)

    def adopt(self, vm: ObservedVM, uid: str) -> None:
        self._fake.call("vms.adopt")
        self._store(replace(self._existing(vm), owner_uid=uid), reported=False)

    def release(self, vm: ObservedVM) -> None:
        self._fake.call("vms.release")
        current = self.current(vm)
        if current is not None:  # releasing a VM that is gone leaves nothing to unmark
            self._store(replace(current, owner_uid=None), reported=False)

    def relocate(self, vm: ObservedVM, to: Relocation, zone: Placement) -> TaskRef:
        """Hosts of a cluster are named after it (DC0_C0_H1), as on vcsim; anything else is outside the zone."""
        self._fake.call("vms.relocate")
        if to.is_empty():
            return TaskRef.nothing_to_do(Operation.RELOCATE, vm.ref)
        assert isinstance(zone, VCenterPlacement)
        current = self._existing(vm)
        if to.host and not _leaf(to.host).startswith(f"{zone.cluster}_"):
            raise OutsideZone(f"host {to.host} is not in the zone's {zone.cluster}")
        if to.storage and _leaf(to.storage) not in self._fake.zones.datastores:
            raise OutsideZone(f"datastore {to.storage} is not mounted by the zone's {zone.cluster}")
        moved = {"host": _leaf(to.host or current.host or ""),
                 "datastore": _leaf(to.storage or current.datastore or "")}
        if to.pool:
            moved["resource_pool"] = _leaf(zone.resource_pool or ROOT_POOL)
        refused = self.refuse_moves.pop(0) if self.refuse_moves else None
        if refused is not None:
            raise Refused(refused)
        return self._fake.tasks.start(Operation.RELOCATE, current.ref, lambda: self._change(current.ref, **moved))


def _needs_hot_add(vm: ObservedVM, change: VMChange) -> bool:
    cpu = change.cpu is not None and (not vm.cpu_hot_add or change.cpu < vm.cpu)
    memory = change.memory_mib is not None and (not vm.memory_hot_add or change.memory_mib < vm.memory_mib)
    return cpu or memory


@dataclass(frozen=True)
class FakeSnapshot:
    snapshot: ObservedSnapshot
    vm_ref: str
    description: str
    kept: dict[str, Any] = field(default_factory=dict)  # what a revert brings back


class FakeSnapshots:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self._snapshots: dict[str, FakeSnapshot] = {}  # unique ID -> snapshot
        self._current: dict[str, str] = {}  # VM ref -> its current snapshot
        self._ids = itertools.count(1)
        self.memory_supported = True
        self.created_at = datetime(2030, 1, 1, tzinfo=UTC)

    # -- the test's hand on the backend ---------------------------------------------------------------------
    def of(self, vm_ref: str) -> list[ObservedSnapshot]:
        return [s.snapshot for s in self._snapshots.values() if s.vm_ref == vm_ref]

    def vanish(self, unique_id: str) -> None:
        """Delete the snapshot out of band; the feed reports its VM changed."""
        self._drop(unique_id)

    # -- helpers --------------------------------------------------------------------------------------------
    def _sync_vm(self, vm_ref: str) -> None:
        vm = self._fake.vms.get(vm_ref)
        if vm is not None:
            self._fake.vms.drift(vm_ref, snapshots=frozenset(s.unique_id for s in self.of(vm_ref)))

    def _drop(self, unique_id: str) -> None:
        gone = self._snapshots.pop(unique_id)
        parent = gone.snapshot.parent_id
        for key, other in list(self._snapshots.items()):
            if other.snapshot.parent_id == unique_id:
                self._snapshots[key] = replace(other, snapshot=replace(other.snapshot, parent_id=parent))
        if self._current.get(gone.vm_ref) == unique_id:
            self._current[gone.vm_ref] = parent or ""
        self._sync_vm(gone.vm_ref)

    def _mine(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        current = self._fake.vms.current(vm)
        found = [s for s in self.of(current.ref) if s.owner_uid == uid] if current is not None else []
        if len(found) > 1:
            raise Conflict(f"{len(found)} snapshots claim ServerSnapshot {uid}")
        return found[0] if found else None

    # -- the Protocol ---------------------------------------------------------------------------------------
    def find(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        self._fake.call("snapshots.find")
        return self._mine(vm, uid)

    def create(self, vm: ObservedVM, spec: SnapshotSpec) -> TaskRef:
        self._fake.call("snapshots.create")
        if spec.memory and not self.memory_supported:
            raise NotSupported("this backend takes no memory snapshots")
        current = self._fake.vms._existing(vm)
        made = self._mine(vm, spec.uid)
        if made is not None:
            return TaskRef.nothing_to_do(Operation.SNAPSHOT, made.unique_id)
        running = self._fake.tasks.running(current.ref, Operation.SNAPSHOT)
        if running:
            return running[0]
        name = marks.snapshot_name(spec.label, spec.uid)
        description = marks.snapshot_description(spec.uid, spec.description)

        def taken() -> str:
            now = self._fake.vms.get(current.ref) or current
            unique_id = f"snapshot-{next(self._ids)}"
            parent = self._current.get(current.ref) or None
            power = now.power if spec.memory else PowerState.OFF
            self._snapshots[unique_id] = FakeSnapshot(
                ObservedSnapshot(unique_id, name, self.created_at, owner_uid=spec.uid, parent_id=parent,
                                 parent_owner_uid=self._snapshots[parent].snapshot.owner_uid if parent else None,
                                 power=power, size_bytes=1024),
                current.ref, description, {"cpu": now.cpu, "memory_mib": now.memory_mib, "disks": now.disks,
                                           "power": power})
            self._current[current.ref] = unique_id
            self._sync_vm(current.ref)
            return unique_id

        return self._fake.tasks.start(Operation.SNAPSHOT, current.ref, taken)

    def revert(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        self._fake.call("snapshots.revert")
        current = self._fake.vms._existing(vm)
        snapshot = self._snapshots.get(unique_id)
        if snapshot is None or snapshot.vm_ref != current.ref:
            raise NotFound(f"snapshot {unique_id} of VM {vm.name} no longer exists")

        def reverted() -> str | None:
            self._current[current.ref] = unique_id
            return self._fake.vms._change(current.ref, **snapshot.kept)

        return self._fake.tasks.start(Operation.REVERT, current.ref, reverted)

    def remove(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        self._fake.call("snapshots.remove")
        current = self._fake.vms.current(vm)
        snapshot = self._snapshots.get(unique_id)
        if current is None or snapshot is None or snapshot.vm_ref != current.ref:
            return TaskRef.nothing_to_do(Operation.REMOVE_SNAPSHOT)

        def removed() -> None:
            if unique_id in self._snapshots:
                self._drop(unique_id)

        return self._fake.tasks.start(Operation.REMOVE_SNAPSHOT, current.ref, removed)

    def task(self, task: TaskRef) -> TaskResult:
        self._fake.call("snapshots.task")
        return self._fake.tasks.read(task)


class FakeInventory:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self._cache: dict[str, ObservedVM] = {}  # unique ID -> VM
        self._callbacks: list[Callback] = []
        self._backlog: list[tuple[str, ObservedVM | None]] = []
        self.running = False
        self.held = False  # changes wait in the backlog: the cache goes stale

    def changed(self, unique_id: str, vm: ObservedVM | None) -> None:
        """The watch: the backend reports a change."""
        if not self.running:
            return
        if self.held:
            self._backlog.append((unique_id, vm))
        else:
            self._deliver(unique_id, vm)

    def catch_up(self) -> None:
        """Let the held feed through."""
        self.held = False
        backlog, self._backlog = self._backlog, []
        for unique_id, vm in backlog:
            self._deliver(unique_id, vm)

    def _deliver(self, unique_id: str, vm: ObservedVM | None) -> None:
        if vm is None:
            self._cache.pop(unique_id, None)
        else:
            self._cache[unique_id] = vm
        for callback in list(self._callbacks):
            callback(vm, unique_id)

    def snapshot(self) -> Mapping[str, ObservedVM]:
        return dict(self._cache)

    def lookup(self, uid: str, recorded: str | None = None) -> ObservedVM | None:
        for key in (recorded, uid):
            if key and key in self._cache:
                return self._cache[key]
        owned = [vm for vm in self._cache.values() if vm.owner_uid == uid]
        return owned[0] if len(owned) == 1 else None

    def subscribe(self, callback: Callback) -> None:
        self._callbacks.append(callback)

    def refresh(self, ref: str) -> ObservedVM | None:
        self._fake.call("inventory.refresh")
        vm = self._fake.vms.get(ref)
        if vm is None:
            self._cache = {key: cached for key, cached in self._cache.items() if cached.ref != ref}
        else:
            self._cache[vm.unique_id] = vm
        return vm

    def start(self) -> None:
        self.running = True
        for vm in self._fake.vms.all():  # the first full listing
            self._deliver(vm.unique_id, vm)

    def stop(self) -> None:
        self.running = False


class FakeImages:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self._templates: dict[str, TemplateInfo] = {}  # ref -> template
        self.disks: dict[str, TemplateInfo] = {}  # library disks by name (SCVMM's), as tests set them
        self._refs = itertools.count(1)

    def add(self, name: str, *, unique_id: str | None = None, folder: str = FOLDER, cpu: int = 1,
            memory_mib: int = 1024, size_bytes: int = 10 * GIB, guest_id: str = "ubuntu64Guest") -> TemplateInfo:
        ref = f"vm-t{next(self._refs)}"
        template = TemplateInfo(unique_id=unique_id or f"4222{ref}", ref=ref, name=name,
                                path=f"/{DATACENTER}/{folder}/{name}", cpu=cpu, memory_mib=memory_mib,
                                size_bytes=size_bytes, guest_id=guest_id)
        self._templates[ref] = template
        return template

    def all(self) -> list[TemplateInfo]:
        return list(self._templates.values())

    def lookup(self, ref: str) -> TemplateInfo | None:
        """By inventory path, instance UUID or bare name (not a backend call: `find_template` is)."""
        exact = [t for t in self._templates.values() if ref in {t.path, t.unique_id}]
        named = exact or [t for t in self._templates.values() if t.name == ref]
        if len(named) > 1:
            raise ProviderError(f"{len(named)} templates are named {ref!r}; use an inventory path")
        return named[0] if named else None

    def find_template(self, ref: str) -> TemplateInfo | None:
        self._fake.call("images.find_template")
        return self.lookup(ref)

    def find_disk(self, ref: str) -> TemplateInfo | None:
        self._fake.call("images.find_disk")
        return self.disks.get(ref)

    def adopt_template(self, ref: str, name: str, uid: str, os_family: str) -> TemplateInfo | None:
        """A template is taken as it is; a library disk (`disks`) is given a template of its own, once."""
        self._fake.call("images.adopt_template")
        found = self.lookup(ref) or next((t for t in self._templates.values() if t.unique_id == uid), None)
        disk = self.disks.get(ref)
        if found is None and disk is not None:
            found = self.add(name, unique_id=uid, size_bytes=disk.size_bytes)
        return found

    def release_template(self, uid: str) -> None:
        self._fake.call("images.release_template")

    def capture(self, vm: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        self._fake.call("images.capture")
        made = next((t for t in self._templates.values() if t.unique_id == uid), None)
        if made is not None:  # a capture before a crash already made it
            return TaskRef.nothing_to_do(Operation.CAPTURE, made.ref)
        source = self._fake.vms.current(vm)
        if source is None:
            raise ProviderError(f"VM {vm.name} ({vm.unique_id}) no longer exists", reason=Reason.SERVER_NOT_FOUND)
        if any(t.name == name for t in self._templates.values()) or any(v.name == name for v in self._fake.vms.all()):
            raise Conflict(f"a VM or template named {name!r} already exists and is not this image's ({uid})")
        folder = placement.folder if isinstance(placement, VCenterPlacement) and placement.folder else FOLDER
        size = sum(d.size_bytes for d in source.disks)

        def captured() -> str:
            return self.add(name, unique_id=uid, folder=folder, cpu=source.cpu, memory_mib=source.memory_mib,
                            size_bytes=size).ref

        return self._fake.tasks.start(Operation.CAPTURE, source.ref, captured)

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        self._fake.call("images.import_ovf")
        return self._imported(url, name, uid, progress)

    def import_disk(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, os_family: str,
                    progress: Callable[[int], bool]) -> TemplateInfo:
        self._fake.call("images.import_disk")
        return self._imported(url, name, uid, progress)

    def _imported(self, url: str, name: str, uid: str, progress: Callable[[int], bool]) -> TemplateInfo:
        """The template an import of `uid` made (once: a second import finds it), unless cancelled at 0%."""
        made = next((t for t in self._templates.values() if t.unique_id == uid), None)
        if made is not None:
            return made
        if not progress(0):
            raise ImportFailed(Reason.IMPORT_CANCELLED, f"import of {url} cancelled")
        template = self.add(name, unique_id=uid)
        progress(100)
        return template

    def destroy_template(self, unique_id: str) -> TaskRef:
        self._fake.call("images.destroy_template")
        template = next((t for t in self._templates.values() if t.unique_id == unique_id), None)
        if template is None:
            return TaskRef.nothing_to_do(Operation.DESTROY)

        def destroyed() -> None:
            self._templates.pop(template.ref, None)

        return self._fake.tasks.start(Operation.DESTROY, template.ref, destroyed)

    def task(self, task: TaskRef) -> TaskResult:
        self._fake.call("images.task")
        return self._fake.tasks.read(task)


class FakePools:
    """vCenter pools nested by path; on an SCVMM placement, a cloud per pool named after it, with capacity."""

    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self._pools: dict[str, ObservedPool] = {}  # ref -> pool (its vms and children counted when read)
        self._refs = itertools.count(1)

    def paths(self) -> set[str]:
        roots = {f"/{DATACENTER}/host/{name}/{ROOT_POOL}" for name in (*self._fake.zones.clusters,
                                                                       *self._fake.zones.hosts)}
        return roots | {p.path for p in self._pools.values()}

    def _counted(self, pool: ObservedPool) -> ObservedPool:
        vms = [vm for vm in self._fake.vms.all() if vm.resource_pool == pool.name]
        children = sum(1 for p in self._pools.values() if p.path.rsplit("/", 1)[0] == pool.path)
        used = replace(pool.used, servers=len(vms), vcpus=sum(vm.cpu for vm in vms),
                       memory_mib=sum(vm.memory_mib for vm in vms)) if pool.path == pool.name else pool.used
        return replace(pool, vms=len(vms), children=children, used=used)

    def _path(self, spec: PoolSpec) -> str:
        where = spec.parent
        if isinstance(where, SCVMMPlacement):
            return spec.name  # a cloud: VMM names are global
        path = where.resource_pool or f"/{DATACENTER}/host/{where.cluster or where.host}/{ROOT_POOL}"
        if path not in self.paths():
            raise NotFound(f"parent resource pool {path!r} not found")
        return f"{path}/{spec.name}"

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        self._fake.call("pools.ensure")
        path = self._path(spec)
        known = self._pools.get(known_ref or "")
        pool = known if known is not None and known.path == path else \
            next((p for p in self._pools.values() if p.path == path), None)  # by name under its parent
        if pool is None:
            pool = ObservedPool(ref=f"resgroup-{next(self._refs)}", name=spec.name, path=path, cpu=spec.cpu,
                                memory=spec.memory)
        self._pools[pool.ref] = replace(pool, cpu=spec.cpu, memory=spec.memory, limits=spec.limits)  # live
        return self._counted(self._pools[pool.ref])

    def observe(self, ref: str) -> ObservedPool | None:
        self._fake.call("pools.observe")
        pool = self._pools.get(ref)
        return self._counted(pool) if pool is not None else None

    def delete(self, ref: str) -> None:
        self._fake.call("pools.delete")
        pool = self._pools.get(ref)
        if pool is None:
            return
        counted = self._counted(pool)
        if counted.vms or counted.children:
            raise InUse(f"resource pool {pool.path} still holds {counted.vms} VM(s) and {counted.children} child "
                        "pool(s); move or delete them first")
        del self._pools[ref]


class FakeZones:
    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake
        self.clusters = {CLUSTER: ZoneCapacity(ref="domain-c7", hosts=3, cpus=48, memory_mib=3 * 65536,
                                               memory_used_mib=20480, cpu_mhz=3 * 16 * 2400, cpu_used_mhz=4000)}
        self.hosts = {HOST: ZoneCapacity(ref="host-21", hosts=1, cpus=16, memory_mib=65536, memory_used_mib=8192,
                                         cpu_mhz=16 * 2400, cpu_used_mhz=1500)}
        self.datastores = {DATASTORE}
        self.networks = {NETWORK}
        self.folders = {FOLDER}

    def check(self, where: Placement) -> None:
        """Every object the placement names exists; NotFound names the first one missing."""
        if not isinstance(where, VCenterPlacement):
            raise ProviderError("a vCenter zone needs a vCenter placement")
        for kind, name, known in (("cluster", where.cluster, self.clusters), ("host", where.host, self.hosts),
                                  ("datastore", where.datastore, self.datastores),
                                  ("network", where.network, self.networks), ("folder", where.folder, self.folders),
                                  ("resource pool", where.resource_pool, self._fake.pools.paths())):
            if name and name not in known:
                raise NotFound(f"{kind} {name!r} not found in datacenter {DATACENTER}")

    def capacity(self, placement: Placement) -> ZoneCapacity | None:
        self._fake.call("zones.capacity")
        self.check(placement)
        assert isinstance(placement, VCenterPlacement)
        if placement.cluster:
            return self.clusters[placement.cluster]
        if placement.host:
            return self.hosts[placement.host]
        raise NotFound("the zone names neither a cluster nor a host")

    def members(self, placement: Placement) -> ZoneMembers:
        """A cluster's hosts are named after it (DC0_C0_H0 ...), as on vcsim; every zone mounts every datastore."""
        self._fake.call("zones.members")
        self.check(placement)
        assert isinstance(placement, VCenterPlacement)
        if placement.cluster:
            hosts = tuple(f"{placement.cluster}_H{n}" for n in range(self.clusters[placement.cluster].hosts))
        else:
            hosts = (placement.host or "",)
        return ZoneMembers(hosts=hosts, storage=tuple(sorted(self.datastores)))


class FakeProvider:
    """One fake backend endpoint: satisfies `herder.providers.base.Provider`."""

    def __init__(self, credentials: Credentials | None = None) -> None:
        self.credentials = credentials  # what it was built with
        self.calls: list[str] = []
        self._failures: dict[str, list[HerderError]] = {}
        self.tasks = FakeTasks()
        self.endpoint = FakeEndpoint(self)
        self.vms = FakeVMs(self)
        self.snapshots = FakeSnapshots(self)
        self.inventory = FakeInventory(self)
        self.images = FakeImages(self)
        self.pools = FakePools(self)
        self.zones = FakeZones(self)
        self.closed = False
        self.images.add(TEMPLATE)

    def call(self, name: str) -> None:
        """Record a backend call, and raise the failure queued for it, if any."""
        self.calls.append(name)
        queued = self._failures.get(name)
        if queued:
            raise queued.pop(0)

    def fail_next(self, name: str, error: HerderError, times: int = 1) -> None:
        """The next `times` calls of `name` (e.g. "vms.create") raise `error`."""
        self._failures.setdefault(name, []).extend([error] * times)

    def close(self) -> None:
        self.closed = True
        self.inventory.stop()
        self.endpoint.close()
