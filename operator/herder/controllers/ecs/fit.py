"""Whether the step an ECS's planner chose fits where it goes, asked by `sync.decide` (so herder plan reports a
refusal as the operator does): a create or move to a pinned host or storage must stay in the server's zone (its
members read now, through the zones' read Protocol), and a create, a move into a ResourcePool's VMM cloud or a
resize in it must fit the cloud's capacity by what the pool's status says. VMM has the last word on capacity
when the step is taken (a refusal then is reported the same way); the providers check the zone again as they act.
"""

from __future__ import annotations

import math

from herder.controllers.shared.indexes import Lookups
from herder.providers.base import ProviderReads
from herder.providers.types import Counts, ObservedVM, VMSpec
from herder.reconcile.ecs import Desired, Plan, Step, pins_outside
from herder.reconcile.pool import CloudRoom, cloud_refusal, cloud_room
from herder.reconcile.vm_spec import Resolved, zone_placement

_GIB = 1 << 30


def outside_zone(reads: ProviderReads, resolved: Resolved, desired: Desired, p: Plan) -> str | None:
    """Why the host or storage `p` creates the VM on or moves it to is not its zone's; None when they are, or
    when the step pins neither (no backend read then)."""
    if p.step is Step.CREATE:
        host, storage = desired.pinned_host, desired.pinned_datastore
    elif p.step is Step.RELOCATE:
        host, storage = p.relocate.host, p.relocate.storage
    else:
        return None
    if not (host or storage):
        return None
    zone = resolved.zone
    members = reads.zones.members(zone_placement(zone))
    return pins_outside(zone.metadata.name or "", host, storage, members, paths=zone.spec.scvmm is not None)


def cloud_of(resolved: Resolved, lookups: Lookups) -> CloudRoom | None:
    """The VMM cloud of the server's ResourcePool, as the pool's status reports it; None on vCenter, without a
    ResourcePool, or before the pool reports its capacity."""
    name = resolved.server.spec.resource_pool
    if resolved.zone.spec.scvmm is None or not name:
        return None
    body = lookups.pool(name)
    return cloud_room(name, body.get("status") or {}) if body is not None else None


def _gib(size_bytes: int) -> int:
    return math.ceil(size_bytes / _GIB) if size_bytes > 0 else 0


def _size(vm: ObservedVM) -> Counts:
    return Counts(servers=1, vcpus=vm.cpu, memory_mib=vm.memory_mib,
                  storage_gib=_gib(sum(d.size_bytes for d in vm.disks)))


def added(p: Plan, spec: VMSpec, observed: ObservedVM | None, room: CloudRoom, target: str | None) -> Counts | None:
    """What step `p` adds to cloud `room` (`target`: the cloud the server belongs in); None for a step that adds
    nothing to it."""
    if p.step is Step.CREATE:
        disks = (spec.os_disk_bytes or 0) + sum(d.size_bytes for d in spec.data_disks)
        return Counts(servers=1, vcpus=spec.cpu, memory_mib=spec.memory_mib, storage_gib=_gib(disks))
    if observed is None:
        return None
    if p.step is Step.RELOCATE and p.relocate.pool and target == room.cloud:
        return _size(observed)
    if p.step is Step.RECONFIGURE and observed.resource_pool == room.cloud:
        change, sizes = p.change, {d.key: d.size_bytes for d in observed.disks}
        grown = sum(size - sizes.get(key, size) for key, size in change.grow_disks)
        grown += sum(d.size_bytes for d in change.add_disks) - sum(sizes.get(k, 0) for k in change.remove_disks)
        return Counts(vcpus=max((change.cpu or observed.cpu) - observed.cpu, 0),
                      memory_mib=max((change.memory_mib or observed.memory_mib) - observed.memory_mib, 0),
                      storage_gib=_gib(grown))
    return None


def cloud_full(room: CloudRoom | None, p: Plan, desired: Desired, observed: ObservedVM | None) -> str | None:
    """Why the cloud has no room for step `p`; None when it has, or the step adds nothing to a cloud."""
    if room is None:
        return None
    more = added(p, desired.spec, observed, room, desired.pool.name if desired.pool is not None else None)
    return cloud_refusal(room, more) if more is not None else None
