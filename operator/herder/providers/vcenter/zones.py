"""What a vCenter zone's placement stands for: its objects exist, and its hosts' capacity and use.

The placement is resolved (folder, pool, datastore, network: inventory-path lookups), then the hosts of the
cluster (or the one host) are read in a single PropertyCollector call, following the cluster's `host`
property. Only hosts that can run VMs count: connected and not in maintenance mode.
"""

from __future__ import annotations

import time
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import NotFound, ProviderError
from herder.providers.types import Placement, VCenterPlacement, ZoneCapacity, ZoneMembers
from herder.providers.vcenter import placement, query
from herder.providers.vcenter.session import Session

_MIB = 1024 * 1024
_HOST_PROPERTIES = (
    "runtime.connectionState",
    "runtime.inMaintenanceMode",
    "summary.hardware.memorySize",
    "summary.hardware.cpuMhz",
    "summary.hardware.numCpuCores",
    "summary.hardware.numCpuThreads",
    "summary.quickStats.overallCpuUsage",
    "summary.quickStats.overallMemoryUsage",
)


def _usable(props: dict[str, Any]) -> bool:
    return str(props.get("runtime.connectionState")) == "connected" and not props.get("runtime.inMaintenanceMode")


def capacity_of(compute_ref: str, hosts: list[dict[str, Any]]) -> ZoneCapacity:
    usable = [h for h in hosts if _usable(h)]

    def total(key: str, scale: int = 1) -> int:
        return sum(int(h.get(key) or 0) for h in usable) // scale

    return ZoneCapacity(
        ref=compute_ref,
        hosts=len(usable),
        cpus=total("summary.hardware.numCpuThreads"),
        memory_mib=total("summary.hardware.memorySize", _MIB),
        memory_used_mib=total("summary.quickStats.overallMemoryUsage"),  # MB already
        cpu_mhz=sum(int(h.get("summary.hardware.cpuMhz") or 0) * int(h.get("summary.hardware.numCpuCores") or 0)
                    for h in usable),
        cpu_used_mhz=total("summary.quickStats.overallCpuUsage"),
    )


class VCenterZones:
    """The `Zones` protocol on one vCenter datacenter.

    The placement is resolved (several lookups) at most every REVALIDATE_SECONDS; in between, a reading is
    one PropertyCollector call on the remembered cluster or host.
    """

    REVALIDATE_SECONDS = 600.0

    def __init__(self, session: Session) -> None:
        self._session = session
        self._resolved: dict[VCenterPlacement, tuple[Any, float]] = {}  # placement -> (cluster or host, when)

    def _compute(self, content: Any, where: VCenterPlacement) -> Any:
        known = self._resolved.get(where)
        if known is not None and time.monotonic() - known[1] < self.REVALIDATE_SECONDS:
            return known[0]
        datacenter = self._session.datacenter()
        target = placement.resolve(content, datacenter, where, ())
        if where.cluster:
            compute = placement.compute_resource(content, datacenter, where.cluster)
        elif target.host is not None:
            compute = target.host
        else:
            raise NotFound("the zone names neither a cluster nor a host")
        self._resolved[where] = (compute, time.monotonic())
        return compute

    def capacity(self, where: Placement) -> ZoneCapacity | None:
        if not isinstance(where, VCenterPlacement):
            raise ProviderError("a vCenter zone needs a vCenter placement")

        def read() -> ZoneCapacity:
            content = self._session.content
            compute = self._compute(content, where)
            try:
                if isinstance(compute, vim.HostSystem):
                    hosts = [query.properties(content, compute, _HOST_PROPERTIES)]
                else:
                    hosts = query.related(content, compute, "host", vim.HostSystem, _HOST_PROPERTIES)
            except vmodl.fault.ManagedObjectNotFound:
                self._resolved.pop(where, None)  # removed since: resolve again next time
                raise
            return capacity_of(str(compute._moId), hosts)

        return self._session.call("read zone capacity", read)

    def members(self, where: Placement) -> ZoneMembers:
        if not isinstance(where, VCenterPlacement):
            raise ProviderError("a vCenter zone needs a vCenter placement")

        def read() -> ZoneMembers:
            # The cluster (or stand-alone host's compute resource) by its path alone: a finder, no view.
            content = self._session.content
            compute = placement.zone_compute(content, self._session.datacenter(), where)
            hosts = query.related(content, compute, "host", vim.HostSystem, ["name"])
            datastores = query.related(content, compute, "datastore", vim.Datastore, ["name"])
            return ZoneMembers(hosts=tuple(str(h.get("name")) for h in hosts),
                               storage=tuple(str(d.get("name")) for d in datastores))

        return self._session.call("read zone members", read)
