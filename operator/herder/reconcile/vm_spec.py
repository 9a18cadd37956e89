"""Turn an ElasticCloudServer and the objects it references into a backend-neutral VMSpec. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace

from herder.api import AvailabilityZone, ElasticCloudServer, ElasticCloudServerSpec
from herder.api.ecs import PowerState
from herder.api.image import ImageSpec, OSFamily
from herder.errors import NotSupported, Unresolvable
from herder.providers.types import DataDisk, Placement, SCVMMPlacement, VCenterPlacement, VMSpec
from herder.reasons import Reason
from herder.reconcile import guest
from herder.reconcile.ecs import PoolTarget
from herder.reconcile.nics import nic_specs

# The name vSphere gives every cluster's (and stand-alone host's) root resource pool.
ROOT_POOL = "Resources"


@dataclass(frozen=True)
class Resolved:
    """An ECS with everything it references, as the controller found it."""

    server: ElasticCloudServer
    zone: AvailabilityZone
    image: ImageSpec | None
    resource_pool_path: str | None = None


def image_ref(spec: ElasticCloudServerSpec) -> str | None:
    """`Kind/name` of the image a server is made from: what status.image records and a set compares."""
    return f"{spec.image.kind.value}/{spec.image.name}" if spec.image else None


def vm_name(namespace: str, name: str) -> str:
    """Unique per ECS: namespaces never contain a dot, so `<namespace>.<name>` cannot collide."""
    return f"{namespace}.{name}"


def template_of(image: ImageSpec) -> str:
    existing = image.source.existing
    if existing is None:
        raise Unresolvable(Reason.IMAGE_NOT_READY, "the image has no template yet (only source.existing is supported)")
    return existing.path or existing.name or ""


def zone_placement(zone: AvailabilityZone) -> Placement:
    """Where a zone's VMs go, as its spec says."""
    spec = zone.spec
    if spec.vcenter is not None:
        where = spec.vcenter
        return VCenterPlacement(cluster=where.cluster, host=where.host, datastore=where.datastore,
                                network=where.network, folder=where.folder, resource_pool=where.resource_pool)
    if spec.scvmm is not None:
        scvmm = spec.scvmm
        return SCVMMPlacement(host_group=scvmm.host_group, cloud=scvmm.cloud, vm_path=scvmm.vm_path,
                              logical_network=scvmm.vm_network or scvmm.logical_network,
                              library_share=scvmm.library_share)
    raise Unresolvable(Reason.ZONE_INVALID, f"zone {zone.metadata.name} has no placement")


def zone_scope(resolved: Resolved) -> Placement:
    """The zone's placement with the ECS's pool: where it must stay, and the pool it belongs in (vCenter: its
    ResourcePool's inventory path, else the zone's pool; SCVMM: its ResourcePool's cloud, else the zone's)."""
    zone = zone_placement(resolved.zone)
    if isinstance(zone, VCenterPlacement):
        return replace(zone, resource_pool=resolved.resource_pool_path or zone.resource_pool)
    return replace(zone, cloud=resolved.resource_pool_path or zone.cloud)


def pool_target(resolved: Resolved) -> PoolTarget:
    """The backend pool the VM belongs in, by the name the backend shows."""
    scope = zone_scope(resolved)
    named = resolved.server.spec.resource_pool is not None
    if isinstance(scope, VCenterPlacement):
        return PoolTarget(scope.resource_pool.rstrip("/").rsplit("/", 1)[-1] if scope.resource_pool else ROOT_POOL,
                          named=named)
    return PoolTarget(scope.cloud, named=named)


def pins(resolved: Resolved) -> tuple[str | None, str | None]:
    """(host, storage) as spec.placement pins them; a field the zone's backend does not have is refused, and on a
    zone that is one stand-alone host no other host can be pinned."""
    pinned = resolved.server.spec.placement
    if pinned is None:
        return None, None
    zone = resolved.zone
    if zone.spec.vcenter is not None:
        if pinned.storage_path:
            raise NotSupported(f"spec.placement.storagePath is for SCVMM; zone {zone.metadata.name} is on vCenter: "
                               "pin a datastore (spec.placement.datastore)")
        own = zone.spec.vcenter.host
        if own and pinned.host and pinned.host.rstrip("/").rsplit("/", 1)[-1] != own.rstrip("/").rsplit("/", 1)[-1]:
            raise Unresolvable(Reason.PLACEMENT_NOT_IN_ZONE, f"spec.placement.host {pinned.host} is not in zone "
                               f"{zone.metadata.name}, which is the stand-alone host {own}")
        return pinned.host, pinned.datastore
    if pinned.datastore:
        raise NotSupported(f"spec.placement.datastore is for vCenter; zone {zone.metadata.name} is on SCVMM: pin a "
                           "storage path (spec.placement.storagePath)")
    return pinned.host, pinned.storage_path


def placement_of(resolved: Resolved) -> Placement:
    """The zone's placement with the ECS's pinned host and storage, and its ResourcePool (vCenter: the pool's
    inventory path; SCVMM: its cloud)."""
    scope = zone_scope(resolved)
    host, storage = pins(resolved)
    if isinstance(scope, VCenterPlacement):
        return replace(scope, host=host or scope.host, datastore=storage or scope.datastore)
    return replace(scope, host=host, storage_path=storage)


def windows_image(image: ImageSpec | None) -> bool:
    return image is not None and image.os_family is OSFamily.WINDOWS


def vm_spec(resolved: Resolved) -> VMSpec:
    """The VMSpec, its guest setup without the values of Secrets (read only for a create, see reconcile.guest)."""
    server = resolved.server
    spec = server.spec
    meta = server.metadata
    if resolved.image is None and spec.adopt_from is None:
        raise Unresolvable(Reason.IMAGE_NOT_FOUND, "spec.image is not set")
    placement = placement_of(resolved)
    default_network = placement.network if isinstance(placement, VCenterPlacement) else placement.logical_network
    return VMSpec(
        uid=meta.uid or "",
        name=vm_name(meta.namespace or "", meta.name or ""),
        # An adopted VM needs no template (the API allows no image with adoptFrom); it is never cloned.
        template=template_of(resolved.image) if resolved.image is not None else "",
        cpu=spec.cpu,
        memory_mib=spec.memory.mib,
        placement=placement,
        os_disk_bytes=spec.disks.os.size.bytes if spec.disks.os.size is not None else None,
        data_disks=tuple(DataDisk(d.name, d.size.bytes) for d in spec.disks.data or ()),
        networks=nic_specs(spec.networks, default_network, resolved.zone.spec.allowed_networks),
        power=PowerState(spec.power_state.value),
        guest=guest.setup(spec.guest, windows=windows_image(resolved.image), name=meta.name or ""),
    )
