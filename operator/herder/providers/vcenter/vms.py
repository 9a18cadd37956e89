"""VM lifecycle on vCenter: find, clone, reconfigure, power, destroy, adopt and release.

Identity lookup order (after vm-operator and CAPV): the recorded moref, if it still exists and belongs to
the ECS; else the instance UUID, which every clone is stamped with (`instanceUuid = ECS uid`); else
herder's custom field, which marks adopted VMs. More than one match is a Conflict, never a guess.

A call that has nothing to do (the VM is already gone, already in the asked power state, or a create
that already ran) returns a TaskRef whose id starts with `done:`; `task()` reports it as succeeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from pyVmomi import vim, vmodl

from herder.api.ecs import PowerState
from herder.errors import Conflict, NotFound, NotSupported, ProviderError
from herder.providers import limits
from herder.providers.types import (
    AddressPool,
    NICSpec,
    ObservedVM,
    Operation,
    Placement,
    Relocation,
    TaskRef,
    TaskResult,
    TaskStatus,
    VCenterPlacement,
    VMChange,
    VMLocation,
    VMSpec,
)
from herder.providers.vcenter import placement, query, specs, tasks
from herder.providers.vcenter.fields import OwnerField
from herder.providers.vcenter.observe import PROPERTIES, compact, custom_values, owner_of, to_server
from herder.providers.vcenter.session import Session
from herder.reasons import Reason

_POWER_OFF_TIMEOUT = 120.0
_GUEST_SHUTDOWN = "guest-shutdown:"  # a TaskRef id: ShutdownGuest of this VM, followed by its power state
_CACHE_SECONDS = 300.0
_VM: Any = vim.VirtualMachine
_Task: Any = vim.Task
OwnerIndex = Callable[[str], list[ObservedVM] | None]


class VCenterVMs:
    """The `Servers` protocol on one vCenter datacenter."""

    def __init__(self, session: Session, owner_field: OwnerField, owned_by: OwnerIndex | None = None):
        """`owned_by(uid)` answers custom-field lookups from the inventory cache (None: not synced yet)."""
        self._session = session
        self._owner = owner_field
        self._owned_by = owned_by
        self._cache: dict[Hashable, tuple[float, Any]] = {}
        self._loading: dict[Hashable, threading.Lock] = {}  # per key: one thread loads it, the others wait
        self._duplicate_names: set[str] = set()  # VM names a clone found taken

    # -- reads ------------------------------------------------------------------------------------------

    def _vm(self, ref: str) -> Any:
        return _VM(ref, self._session.stub)

    def _read(self, vm: Any) -> ObservedVM | None:
        content = self._session.content
        try:
            props = query.properties(content, vm, PROPERTIES)
        except vmodl.fault.ManagedObjectNotFound:
            return None
        return to_server(str(vm._moId), compact(props, self._session.name_of), self._owner.key(content))

    def _by_uuid(self, unique_id: str) -> list[ObservedVM]:
        content = self._session.content
        found = query.vms_by_instance_uuid(content, self._session.datacenter(), unique_id)
        servers = [self._read(vm) for vm in found]
        return [s for s in servers if s is not None]

    def _by_owner(self, uid: str) -> list[ObservedVM]:
        cached = self._owned_by(uid) if self._owned_by else None
        if cached is not None:
            return cached
        # Without the inventory: every VM's marks (small), then the full reading of those marked for `uid` only.
        content = self._session.content
        key = self._owner.key(content)
        rows = query.all_of_type(content, self._session.datacenter().vmFolder, vim.VirtualMachine, ["customValue"])
        marked = [vm for vm, props in rows if owner_of(custom_values(props.get("customValue")), key) == uid]
        servers = [self._read(vm) for vm in marked]
        return [s for s in servers if s is not None and s.owner_uid == uid]

    @staticmethod
    def _one(matches: list[ObservedVM], what: str) -> ObservedVM | None:
        if len(matches) > 1:
            refs = ", ".join(sorted(s.ref for s in matches))
            raise Conflict(f"{len(matches)} VMs claim {what}: {refs}")
        return matches[0] if matches else None

    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        def run() -> ObservedVM | None:
            if known_ref:
                known = self._read(self._vm(known_ref))
                if known is not None and uid in (known.unique_id, known.owner_uid):
                    return known
            return self._one(self._by_uuid(uid), f"instance UUID {uid}") or self._one(self._by_owner(uid), f"ECS {uid}")

        return self._session.call(f"find the VM of ECS {uid}", run)

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        return self._session.call(
            f"find VM {unique_id}", lambda: self._one(self._by_uuid(unique_id), f"instance UUID {unique_id}")
        )

    def locate(self, server: ObservedVM) -> VMLocation:
        def run() -> VMLocation:
            vm = self.vm_object(server)
            if vm is None:
                raise NotFound(f"VM {server.unique_id} no longer exists")
            content, datacenter = self._session.content, self._session.datacenter()
            root = self._session.datacenter_name
            props = query.properties(content, vm, ["parent", "runtime.host"])
            folder, host = props.get("parent"), props.get("runtime.host")
            compute = query.properties(content, host, ["parent"]).get("parent") if host is not None else None
            return VMLocation(
                host=self._session.name_of(host),
                folder=placement.inventory_path(folder, datacenter, root) if folder is not None else None,
                vm_root=placement.inventory_path(datacenter.vmFolder, datacenter, root),
                compute=self._session.name_of(compute),
            )

        return self._session.call(f"locate VM {server.unique_id}", run)

    def address_pools(self, nics: tuple[NICSpec, ...]) -> tuple[AddressPool | None, ...]:
        """vCenter has no IP address pools: a static NIC names its address."""
        return tuple(None for _ in nics)

    # -- create -----------------------------------------------------------------------------------------

    def create(self, spec: VMSpec) -> TaskRef:
        if not isinstance(spec.placement, VCenterPlacement):
            raise ProviderError(f"VM {spec.name}: a vCenter zone needs a vCenter placement")
        refused = limits.nics_refusal(limits.VCENTER, spec.networks)
        if refused is not None:
            raise NotSupported(refused)
        where = spec.placement
        return self._session.call(f"clone VM {spec.name}", lambda: self._create(spec, where))

    def _cached(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """Placement objects and template devices change rarely: resolving them for every clone would
        cost about a dozen round trips per VM. Entries expire, and any clone failure drops them all."""
        with self._loading.setdefault(key, threading.Lock()):  # the first creates all ask at once
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < _CACHE_SECONDS:
                return hit[1]
            value = load()
            self._cache[key] = (time.monotonic(), value)
            return value

    def _create(self, spec: VMSpec, where: VCenterPlacement) -> TaskRef:
        content, datacenter = self._session.content, self._session.datacenter()
        names = tuple(nic.network for nic in spec.networks)
        target = self._cached(("target", where, names), lambda: placement.resolve(content, datacenter, where, names))
        # A VM of that name already (an earlier create of this ECS, or someone else's) fails the clone with
        # DuplicateName. Asking first would cost a call on every create, so only a name that failed so is looked
        # up: the VM is this ECS's (an earlier create) or a Conflict.
        if spec.name in self._duplicate_names:
            existing = content.searchIndex.FindChild(entity=target.folder, name=spec.name)
            if existing is not None:
                return self._already_created(existing, spec)

        def load_template() -> tuple[Any, list[Any]]:
            found = placement.template(content, datacenter, spec.template)
            devices = query.properties(content, found, ["config.hardware.device"]).get("config.hardware.device")
            return found, list(devices or ())

        template, devices = self._cached(("template", spec.template), load_template)
        config = specs.clone_config(spec, devices, target.network_backings)
        customize = specs.customization(spec, specs.nic_count(devices, target.network_backings))
        clone = specs.clone_spec(config, pool=target.pool, datastore=target.datastore, host=target.host,
                                 power=spec.power, customize=customize)
        try:
            task = template.CloneVM_Task(folder=target.folder, name=spec.name, spec=clone)
        except vim.fault.DuplicateName:
            self._duplicate_names.add(spec.name)
            existing = content.searchIndex.FindChild(entity=target.folder, name=spec.name)
            if existing is None:
                raise
            return self._already_created(existing, spec)
        except Exception:
            self._cache.clear()
            raise
        return TaskRef(id=str(task._moId), operation=Operation.CREATE)

    def _already_created(self, vm: Any, spec: VMSpec) -> TaskRef:
        """The name is taken: an earlier create of this ECS ran, unless the VM carries another identity."""
        props = query.properties(self._session.content, vm, ["config.instanceUuid"])
        if props.get("config.instanceUuid") != spec.uid:
            raise Conflict(
                f"a VM named {spec.name!r} ({vm._moId}) already exists with instance UUID "
                f"{props.get('config.instanceUuid')}, not this ECS's {spec.uid}"
            )
        return TaskRef.nothing_to_do(Operation.CREATE, str(vm._moId))

    # -- tasks ------------------------------------------------------------------------------------------

    def task(self, task: TaskRef) -> TaskResult:
        if task.id.startswith(_GUEST_SHUTDOWN):
            return self._guest_shutdown(task)

        def duplicate(info: Any) -> TaskResult | None:
            if task.operation is Operation.CREATE and isinstance(info.error, vim.fault.DuplicateName):
                # Another create of the same ECS got there first (its VM is found by identity next), or the name
                # is someone else's (the next create looks it up and says so).
                self._duplicate_names.add(str(info.error.name))
                return TaskResult(status=TaskStatus.UNKNOWN)
            return None

        return tasks.read(self._session, task, on_error=duplicate)

    def _guest_shutdown(self, task: TaskRef) -> TaskResult:
        ref = task.id[len(_GUEST_SHUTDOWN):]

        def run() -> TaskResult:
            try:
                power = query.properties(self._session.content, self._vm(ref), ["runtime.powerState"])
            except vmodl.fault.ManagedObjectNotFound:
                return TaskResult(status=TaskStatus.UNKNOWN)
            if power.get("runtime.powerState") == "poweredOff":
                return TaskResult(status=TaskStatus.SUCCEEDED, result_ref=ref)
            return TaskResult(status=TaskStatus.RUNNING)

        return self._session.call(f"read the guest shutdown of VM {ref}", run)

    # -- changes ----------------------------------------------------------------------------------------

    def vm_object(self, server: ObservedVM) -> Any:
        """The VM object for `server`, re-checked by instance UUID so a stale ref never hits another VM."""
        content = self._session.content
        vm = self._vm(server.ref)
        try:
            if query.properties(content, vm, ["config.instanceUuid"]).get("config.instanceUuid") == server.unique_id:
                return vm
        except vmodl.fault.ManagedObjectNotFound:
            pass
        found = query.vms_by_instance_uuid(content, self._session.datacenter(), server.unique_id)
        if len(found) > 1:
            raise Conflict(f"{len(found)} VMs claim instance UUID {server.unique_id}")
        return found[0] if found else None

    def reconfigure(self, server: ObservedVM, change: VMChange) -> TaskRef:
        refused = limits.change_refusal(limits.VCENTER, change, server)
        if refused is not None:
            raise NotSupported(refused)

        def run() -> TaskRef:
            if change.is_empty():
                return TaskRef.nothing_to_do(Operation.RECONFIGURE, server.ref)
            vm = self.vm_object(server)
            if vm is None:
                raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
            content, datacenter = self._session.content, self._session.datacenter()
            devices = query.properties(content, vm, ["config.hardware.device"])
            wanted = [*change.add_nics, *(nic for _, nic in change.change_nics)]
            backings = {nic.network: placement.network_backing(content, datacenter, nic.network) for nic in wanted}
            spec = specs.reconfig_spec(list(devices.get("config.hardware.device") or ()), change, backings)
            return TaskRef(id=str(vm.ReconfigVM_Task(spec=spec)._moId), operation=Operation.RECONFIGURE)

        return self._session.call(f"reconfigure VM {server.name}", run)

    def set_power(self, server: ObservedVM, power: PowerState, *, graceful: bool = False) -> TaskRef:
        def run() -> TaskRef:
            vm = self.vm_object(server)
            if vm is None:
                raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
            current = str(query.properties(self._session.content, vm, ["runtime.powerState"]).get("runtime.powerState"))
            if power == PowerState.OFF and graceful and current == "poweredOn":
                # ShutdownGuest returns at once, with no task: the shutdown is followed by the VM's power state.
                vm.ShutdownGuest()
                return TaskRef(id=f"{_GUEST_SHUTDOWN}{vm._moId}", operation=Operation.GUEST_SHUTDOWN)
            if power == PowerState.OFF:
                return self._power_task(vm.PowerOffVM_Task if current != "poweredOff" else None,
                                        Operation.POWER_OFF, vm)
            if power == PowerState.ON or current != "poweredOn":
                # Suspending needs a running VM: power on first, the next reconcile suspends.
                return self._power_task(vm.PowerOnVM_Task if current != "poweredOn" else None, Operation.POWER_ON, vm)
            return self._power_task(vm.SuspendVM_Task, Operation.SUSPEND, vm)

        return self._session.call(f"set power of VM {server.name} to {power}", run)

    @staticmethod
    def _power_task(start: Callable[[], Any] | None, operation: Operation, vm: Any) -> TaskRef:
        if start is None:
            return TaskRef.nothing_to_do(operation, str(vm._moId))
        return TaskRef(id=str(start()._moId), operation=operation)

    def destroy(self, server: ObservedVM) -> TaskRef:
        def run() -> TaskRef:
            vm = self.vm_object(server)
            if vm is None:
                return TaskRef.nothing_to_do(Operation.DESTROY)
            try:
                if vm.runtime.powerState != "poweredOff":
                    tasks.wait(vm.PowerOffVM_Task(), f"power off VM {server.name} before deleting it",
                               _POWER_OFF_TIMEOUT)
                return TaskRef(id=str(vm.Destroy_Task()._moId), operation=Operation.DESTROY)
            except vmodl.fault.ManagedObjectNotFound:
                return TaskRef.nothing_to_do(Operation.DESTROY)

        return self._session.call(f"delete VM {server.name}", run)

    def relocate(self, server: ObservedVM, to: Relocation, zone: Placement) -> TaskRef:
        """vMotion (host), Storage vMotion (datastore) and a pool change in one RelocateVM_Task, live: the VM's
        power state is left alone. The target host and datastore must be the zone's."""
        if not isinstance(zone, VCenterPlacement):
            raise ProviderError(f"VM {server.name}: a vCenter zone needs a vCenter placement")

        def run() -> TaskRef:
            if to.is_empty():
                return TaskRef.nothing_to_do(Operation.RELOCATE, server.ref)
            vm = self.vm_object(server)
            if vm is None:
                raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
            content, datacenter = self._session.content, self._session.datacenter()
            host = placement.host(content, datacenter, to.host) if to.host else None
            datastore = placement.datastore(content, datacenter, to.storage) if to.storage else None
            if host is not None or datastore is not None:
                placement.check_in_zone(content, placement.zone_compute(content, datacenter, zone), host, datastore)
            pool = placement.zone_pool(content, datacenter, zone) if to.pool else None
            spec = specs.relocate_spec(host=host, datastore=datastore, pool=pool)
            return TaskRef(id=str(vm.RelocateVM_Task(spec=spec)._moId), operation=Operation.RELOCATE)

        return self._session.call(f"move VM {server.name} to {to.describe()}", run)

    # -- ownership marks --------------------------------------------------------------------------------

    def adopt(self, server: ObservedVM, uid: str) -> None:
        self._mark(server, uid, f"adopt VM {server.name} for ECS {uid}")

    def release(self, server: ObservedVM) -> None:
        self._mark(server, "", f"release VM {server.name}")

    def _mark(self, server: ObservedVM, value: str, action: str) -> None:
        def run() -> None:
            vm = self.vm_object(server)
            if vm is None and value:
                raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists", reason=Reason.NOT_FOUND)
            if vm is not None:  # releasing a VM that is gone leaves nothing to unmark
                self._owner.set(self._session.content, vm, value)

        self._session.call(action, run)
