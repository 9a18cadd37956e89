"""Resource pools on vCenter: create nested pools, update their allocations live, report usage, delete.

A pool is found by its recorded moref, else by name under its parent (the name is the ResourcePool's, unique
in the cluster-scoped kind), so a create that ran before a crash is found, not repeated. `UpdateConfig`
changes reservations, limits and shares in place: the VMs in the pool keep running.
"""

from __future__ import annotations

import time
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import InUse, NotFound, ProviderError
from herder.providers.types import (
    Allocation,
    ObservedPool,
    PoolSpec,
    PoolUsage,
    SharesLevel,
    VCenterPlacement,
)
from herder.providers.vcenter import errors, placement, query
from herder.providers.vcenter.session import Session

_Pool: Any = vim.ResourcePool
_ConfigSpec: Any = vim.ResourceConfigSpec
_AllocationInfo: Any = vim.ResourceAllocationInfo
_SharesInfo: Any = vim.SharesInfo
_DELETE_TIMEOUT = 60.0
_MIB = 1024 * 1024
_PROPERTIES = ("name", "config", "runtime", "vm", "resourcePool", "parent")


def allocation_info(allocation: Allocation) -> Any:
    """vSphere's allocation: limit -1 is unlimited; the shares number counts only with `custom`."""
    custom = allocation.shares_level is SharesLevel.CUSTOM
    return _AllocationInfo(
        reservation=allocation.reservation,
        limit=-1 if allocation.limit is None else allocation.limit,
        expandableReservation=allocation.expandable_reservation,
        shares=_SharesInfo(level=allocation.shares_level.value, shares=(allocation.shares or 0) if custom else 0),
    )


def config_spec(spec: PoolSpec) -> Any:
    return _ConfigSpec(cpuAllocation=allocation_info(spec.cpu), memoryAllocation=allocation_info(spec.memory))


def allocation_of(info: Any) -> Allocation:
    if info is None:
        return Allocation()
    shares = getattr(info, "shares", None)
    level = SharesLevel(str(shares.level)) if shares is not None and shares.level else SharesLevel.NORMAL
    limit = info.limit
    return Allocation(
        reservation=int(info.reservation or 0),
        limit=None if limit is None or int(limit) < 0 else int(limit),
        shares_level=level,
        shares=int(shares.shares) if shares is not None and level is SharesLevel.CUSTOM else None,
        expandable_reservation=bool(info.expandableReservation),
    )


def _usage(info: Any, scale: int) -> PoolUsage:
    if info is None:
        return PoolUsage()

    def value(name: str) -> int | None:
        raw = getattr(info, name, None)
        return None if raw is None else int(raw) // scale

    return PoolUsage(reservation_used=value("reservationUsed"), available=value("unreservedForVm"),
                     usage=value("overallUsage"))


class VCenterPools:
    """The `Pools` protocol on one vCenter datacenter."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._paths: dict[str, str] = {}  # moref -> inventory path (pools are never moved by herder)

    def _path(self, obj: Any) -> str:
        key = str(obj._moId)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        path = placement.inventory_path(obj, self._session.datacenter(), self._session.datacenter_name)
        self._paths[key] = path
        return path

    def _observe(self, pool: Any) -> ObservedPool | None:
        try:
            props = query.properties(self._session.content, pool, _PROPERTIES)
        except vmodl.fault.ManagedObjectNotFound:
            return None
        if not props:
            return None
        config, runtime = props.get("config"), props.get("runtime")
        return ObservedPool(
            ref=str(pool._moId),
            name=str(props.get("name", "")),
            path=self._path(pool),
            cpu=allocation_of(getattr(config, "cpuAllocation", None)),
            memory=allocation_of(getattr(config, "memoryAllocation", None)),
            vms=len(props.get("vm") or ()),
            children=len(props.get("resourcePool") or ()),
            cpu_usage=_usage(getattr(runtime, "cpu", None), 1),
            memory_usage=_usage(getattr(runtime, "memory", None), _MIB),
        )

    def _parent(self, where: Any) -> Any:
        if not isinstance(where, VCenterPlacement):
            raise ProviderError("a vCenter resource pool needs a vCenter zone")
        content, datacenter = self._session.content, self._session.datacenter()
        pool, _ = placement._compute(content, datacenter, where)
        if not isinstance(pool, vim.ResourcePool):
            raise NotFound(f"parent resource pool {where.resource_pool!r} is not a resource pool")
        return pool

    def _find(self, spec: PoolSpec, known_ref: str | None) -> tuple[Any, Any]:
        """(the pool or None, its parent pool)."""
        parent = self._parent(spec.parent)
        if known_ref:
            pool = _Pool(known_ref, self._session.stub)
            try:
                props = query.properties(self._session.content, pool, ["name", "parent"])
            except vmodl.fault.ManagedObjectNotFound:
                props = {}
            if props.get("name") == spec.name and props.get("parent") == parent:
                return pool, parent
        children = query.properties(self._session.content, parent, ["resourcePool"]).get("resourcePool") or ()
        for child in children:
            if self._session.name_of(child) == spec.name:
                return child, parent
        return None, parent

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        def run() -> ObservedPool:
            pool, parent = self._find(spec, known_ref)
            wanted = config_spec(spec)
            if pool is None:
                try:
                    pool = parent.CreateResourcePool(name=spec.name, spec=wanted)
                except vim.fault.DuplicateName:
                    pool, _ = self._find(spec, None)
                    if pool is None:
                        raise
            observed = self._observe(pool)
            if observed is None:
                raise NotFound(f"resource pool {spec.name} vanished while being made")
            if (observed.cpu, observed.memory) != (spec.cpu, spec.memory):
                pool.UpdateConfig(name=None, config=wanted)
                observed = self._observe(pool)
                if observed is None:
                    raise NotFound(f"resource pool {spec.name} vanished while being updated")
            return observed

        return self._session.call(f"create or update resource pool {spec.name}", run)

    def observe(self, ref: str) -> ObservedPool | None:
        return self._session.call(f"read resource pool {ref}", lambda: self._observe(_Pool(ref, self._session.stub)))

    def delete(self, ref: str) -> None:
        def run() -> None:
            pool = _Pool(ref, self._session.stub)
            observed = self._observe(pool)
            if observed is None:
                return
            if observed.vms or observed.children:
                raise InUse(f"resource pool {observed.path} still holds {observed.vms} VM(s) and "
                            f"{observed.children} child pool(s); move or delete them first")
            task = pool.Destroy_Task()
            deadline = time.monotonic() + _DELETE_TIMEOUT
            while time.monotonic() < deadline:
                info = task.info
                if info.state == "success":
                    self._paths.pop(ref, None)
                    return
                if info.state == "error":
                    raise ProviderError(f"delete resource pool {observed.path}: {errors.fault_message(info.error)}")
                time.sleep(0.2)
            raise ProviderError(f"delete resource pool {observed.path}: vCenter did not finish in time")

        self._session.call(f"delete resource pool {ref}", run)
