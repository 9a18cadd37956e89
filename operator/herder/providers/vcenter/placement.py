"""Resolve a VCenterPlacement and a template reference to managed objects. Run inside `Session.call`.

Paths may be absolute inventory paths (`/DC0/host/DC0_C0`) or relative to the datacenter's folder for
that kind (`DC0_C0` under `/DC0/host`); templates may also be a bare name or an instance UUID.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from herder.errors import NotFound, OutsideZone, ProviderError
from herder.providers.types import VCenterPlacement
from herder.providers.vcenter import query

_NetworkBacking: Any = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo
_DVPortBacking: Any = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo
_PortConnection: Any = vim.dvs.PortConnection


@dataclass(frozen=True)
class Target:
    folder: Any
    pool: Any
    host: Any
    datastore: Any
    network_backings: tuple[Any, ...]


def _path(content: Any, datacenter: Any, kind: str, path: str) -> Any:
    full = path.strip("/") if path.startswith("/") else f"{datacenter.name}/{kind}/{path.strip('/')}"
    found = content.searchIndex.FindByInventoryPath(full)
    if found is None:
        raise NotFound(f"{kind} {path!r} does not exist in datacenter {datacenter.name}")
    return found


def inventory_path(obj: Any, datacenter: Any, root: str) -> str:
    """The absolute inventory path of an entity of `datacenter`, whose own path is `root` (e.g. /DC0/vm/a).
    Raises NotFound when the entity is not in that datacenter."""
    names: list[str] = []
    current = obj
    while current is not None and not isinstance(current, vim.Datacenter):
        names.append(str(current.name))
        current = current.parent
    if current != datacenter:
        raise NotFound(f"{obj._moId} is not in datacenter {root}")
    return "/" + "/".join([root.strip("/"), *reversed(names)])


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def template(content: Any, datacenter: Any, ref: str) -> Any:
    """The template VM named by an inventory path, an instance UUID or a bare name."""
    if "/" in ref:
        found = [_path(content, datacenter, "vm", ref)]
    elif _is_uuid(ref):
        found = query.vms_by_instance_uuid(content, datacenter, ref)
    else:
        found = query.by_name(content, datacenter.vmFolder, vim.VirtualMachine, ref)
    found = [vm for vm in found if isinstance(vm, vim.VirtualMachine)]
    if not found:
        raise NotFound(f"template {ref!r} does not exist in datacenter {datacenter.name}")
    if len(found) > 1:
        raise ProviderError(f"template name {ref!r} is ambiguous: use its inventory path")
    return found[0]


def host(content: Any, datacenter: Any, ref: str) -> Any:
    """An ESXi host by inventory path, or by bare name (hosts in a cluster sit below it: `DC0_C0_H1`)."""
    if "/" not in ref:
        named = query.by_name(content, datacenter.hostFolder, vim.HostSystem, ref)
        if len(named) == 1:
            return named[0]
    found = _path(content, datacenter, "host", ref)
    if isinstance(found, vim.ComputeResource):  # a standalone host's compute resource
        found = found.host[0]
    if not isinstance(found, vim.HostSystem):
        raise NotFound(f"host {ref!r} is not an ESXi host in datacenter {datacenter.name}")
    return found


def datastore(content: Any, datacenter: Any, ref: str) -> Any:
    found = _path(content, datacenter, "datastore", ref)
    if not isinstance(found, vim.Datastore):
        raise NotFound(f"datastore {ref!r} is not a datastore in datacenter {datacenter.name}")
    return found


def compute_resource(content: Any, datacenter: Any, ref: str) -> Any:
    """A cluster (or a stand-alone host's compute resource) by inventory path."""
    found = _path(content, datacenter, "host", ref)
    if not isinstance(found, vim.ComputeResource):
        raise NotFound(f"cluster {ref!r} is not a cluster in datacenter {datacenter.name}")
    return found


def _compute(content: Any, datacenter: Any, placement: VCenterPlacement) -> tuple[Any, Any]:
    """(resource pool, host or None): the explicit pool, else the cluster's or the host's root pool."""
    host = None
    if placement.host:
        host = _path(content, datacenter, "host", placement.host)
        if isinstance(host, vim.ComputeResource):  # a standalone host's compute resource
            host = host.host[0]
    if placement.resource_pool:
        return _path(content, datacenter, "host", placement.resource_pool), host
    if placement.cluster:
        return compute_resource(content, datacenter, placement.cluster).resourcePool, host
    if host is not None:
        return host.parent.resourcePool, host
    computes = query.all_of_type(content, datacenter.hostFolder, vim.ComputeResource, ["resourcePool"])
    if not computes:
        raise NotFound(f"datacenter {datacenter.name} has no cluster or host to place VMs on")
    return computes[0][1]["resourcePool"], None


def zone_compute(content: Any, datacenter: Any, zone: VCenterPlacement) -> Any:
    """The zone's compute resource: its cluster, or its stand-alone host's compute resource."""
    if zone.cluster:
        return compute_resource(content, datacenter, zone.cluster)
    if zone.host:
        found = _path(content, datacenter, "host", zone.host)
        return found if isinstance(found, vim.ComputeResource) else found.parent
    raise NotFound("the zone names neither a cluster nor a host")


def check_in_zone(content: Any, compute: Any, host: Any = None, datastore: Any = None) -> None:
    """Raise OutsideZone unless `host` is one of the zone's compute resource's and `datastore` one it mounts."""
    names = query.properties(content, compute, ["name", "datastore"])
    if host is not None:
        parent = query.properties(content, host, ["name", "parent"])
        if getattr(parent.get("parent"), "_moId", None) != compute._moId:
            raise OutsideZone(f"host {parent.get('name')} is not in the zone's {names.get('name')}")
    if datastore is not None and datastore._moId not in {d._moId for d in names.get("datastore") or ()}:
        label = query.properties(content, datastore, ["name"]).get("name")
        raise OutsideZone(f"datastore {label} is not mounted by the zone's {names.get('name')}")


def network_backing(content: Any, datacenter: Any, name: str) -> Any:
    matches = query.by_name(content, datacenter.networkFolder, vim.Network, name)
    if not matches:
        raise NotFound(f"network {name!r} does not exist in datacenter {datacenter.name}")
    network = matches[0]
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup) and network.config.distributedVirtualSwitch:
        port = _PortConnection(portgroupKey=network.key, switchUuid=network.config.distributedVirtualSwitch.uuid)
        return _DVPortBacking(port=port)
    return _NetworkBacking(deviceName=name, network=network)


def _folder(content: Any, datacenter: Any, path: str) -> Any:
    """A VM folder: absolute, or relative to the datacenter with or without the leading `vm`."""
    relative = path.strip("/")
    if not path.startswith("/") and (relative == "vm" or relative.startswith("vm/")):
        relative = relative.removeprefix("vm").strip("/")
        return _path(content, datacenter, "vm", relative) if relative else datacenter.vmFolder
    return _path(content, datacenter, "vm", path)


def resolve(content: Any, datacenter: Any, placement: VCenterPlacement, networks: Sequence[str]) -> Target:
    """Where a new VM goes; a pinned host or datastore outside the zone's cluster raises OutsideZone."""
    folder = _folder(content, datacenter, placement.folder) if placement.folder else datacenter.vmFolder
    pool, host = _compute(content, datacenter, placement)
    datastore = _path(content, datacenter, "datastore", placement.datastore) if placement.datastore else None
    if placement.cluster and (host is not None or datastore is not None):
        check_in_zone(content, compute_resource(content, datacenter, placement.cluster), host, datastore)
    names = list(networks) or ([placement.network] if placement.network else [])
    backings = tuple(network_backing(content, datacenter, name) for name in names)
    return Target(folder=folder, pool=pool, host=host, datastore=datastore, network_backings=backings)


def zone_pool(content: Any, datacenter: Any, zone: VCenterPlacement) -> Any:
    """The pool a zone placement names (a ResourcePool's, the zone's), else its cluster's or host's root pool."""
    pool, _ = _compute(content, datacenter, VCenterPlacement(cluster=zone.cluster, host=zone.host,
                                                             resource_pool=zone.resource_pool))
    return pool
