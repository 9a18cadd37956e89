"""Turn an ElasticCloudServer and the objects it references into a backend-neutral ServerSpec. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace

from herder.api import AvailabilityZone, ElasticCloudServer, ElasticCloudServerSpec, quantity_to_bytes, quantity_to_mib
from herder.api.image import ImageSpec
from herder.providers.types import (
    DataDisk,
    Placement,
    PowerState,
    SCVMMPlacement,
    ServerSpec,
    VCenterPlacement,
)

PAUSED_ANNOTATION = "herder.dev/paused"
RECREATE_ANNOTATION = "herder.dev/recreate"
# Set by an image capture (powerPolicy GuestShutdown or PowerOff) while it needs the server stopped:
# `<policy>:<Kind>/<namespace>/<name>:<image UID>`. The ECS controller stops the VM and keeps it stopped
# until the image removes the annotation, then restores spec.powerState.
CAPTURE_HOLD_ANNOTATION = "herder.dev/stopped-for-capture"
_TRUE = {"true", "yes", "1", ""}
_STOP_POLICIES = {"GuestShutdown": True, "PowerOff": False}  # policy -> a graceful (guest OS) shutdown


class Unresolvable(Exception):
    """A reference cannot be followed yet. `reason` becomes the condition reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Resolved:
    """An ECS with everything it references, as the controller found it."""

    server: ElasticCloudServer
    zone: AvailabilityZone
    image: ImageSpec | None
    datacenter: str = ""
    resource_pool_path: str | None = None


def annotation_set(server: ElasticCloudServer, key: str) -> bool:
    value = (server.metadata.annotations or {}).get(key)
    return value is not None and value.strip().lower() in _TRUE


@dataclass(frozen=True)
class CaptureHold:
    """An image capture holds the server stopped: `by` names the image (`Kind/namespace/name` or
    `ClusterImage/name`), `uid` is its UID (a same-named successor is another image), `graceful` says how
    to stop the VM."""

    by: str
    uid: str
    graceful: bool

    @property
    def policy(self) -> str:
        return next(name for name, graceful in _STOP_POLICIES.items() if graceful == self.graceful)

    def annotation(self) -> str:
        return f"{self.policy}:{self.by}:{self.uid}"


def capture_hold(annotations: dict[str, str] | None) -> CaptureHold | None:
    """The hold the annotation records; None when absent or not written by herder (never a guess to stop)."""
    parts = ((annotations or {}).get(CAPTURE_HOLD_ANNOTATION) or "").split(":")
    if len(parts) != 3 or parts[0] not in _STOP_POLICIES or not all(parts):
        return None
    policy, by, uid = parts
    return CaptureHold(by, uid, _STOP_POLICIES[policy])


def image_ref(spec: ElasticCloudServerSpec) -> str | None:
    """`Kind/name` of the image a server is made from: what status.image records and a set compares."""
    return f"{spec.image.kind.value}/{spec.image.name}" if spec.image else None


def vm_name(namespace: str, name: str) -> str:
    """Unique per ECS: namespaces never contain a dot, so `<namespace>.<name>` cannot collide."""
    return f"{namespace}.{name}"


def template_of(image: ImageSpec) -> str:
    existing = image.source.existing
    if existing is None:
        raise Unresolvable("ImageNotReady", "the image has no template yet (only source.existing is supported)")
    return existing.path or existing.name or ""


def zone_placement(zone: AvailabilityZone, datacenter: str) -> Placement:
    """Where a zone's VMs go, as its spec says."""
    spec = zone.spec
    if spec.vcenter is not None:
        where = spec.vcenter
        return VCenterPlacement(datacenter=datacenter, cluster=where.cluster, host=where.host,
                                datastore=where.datastore, network=where.network, folder=where.folder,
                                resource_pool=where.resource_pool)
    if spec.scvmm is not None:
        scvmm = spec.scvmm
        return SCVMMPlacement(host_group=scvmm.host_group, cloud=scvmm.cloud, vm_path=scvmm.vm_path,
                              logical_network=scvmm.vm_network or scvmm.logical_network)
    raise Unresolvable("ZoneInvalid", f"zone {zone.metadata.name} has no placement")


def placement_of(resolved: Resolved) -> Placement:
    """The zone's placement with the ECS's pinned host and datastore, and its ResourcePool."""
    zone = zone_placement(resolved.zone, resolved.datacenter)
    pinned = resolved.server.spec.placement
    host = pinned.host if pinned and pinned.host else None
    if isinstance(zone, VCenterPlacement):
        datastore = pinned.datastore if pinned and pinned.datastore else None
        return replace(zone, host=host or zone.host, datastore=datastore or zone.datastore,
                       resource_pool=resolved.resource_pool_path or zone.resource_pool)
    return replace(zone, host=host)


def server_spec(resolved: Resolved, user_data: str | None = None) -> ServerSpec:
    server = resolved.server
    spec = server.spec
    meta = server.metadata
    if resolved.image is None and spec.adopt_from is None:
        raise Unresolvable("ImageNotFound", "spec.image is not set")
    placement = placement_of(resolved)
    default_network = placement.network if isinstance(placement, VCenterPlacement) else placement.logical_network
    networks = tuple(nic.network or default_network or "" for nic in spec.networks or ())
    return ServerSpec(
        uid=meta.uid or "",
        name=vm_name(meta.namespace or "", meta.name or ""),
        # An adopted VM needs no template (the API allows no image with adoptFrom); it is never cloned.
        template=template_of(resolved.image) if resolved.image is not None else "",
        cpu=spec.cpu,
        memory_mib=quantity_to_mib(spec.memory),
        placement=placement,
        os_disk_bytes=quantity_to_bytes(spec.disks.os.size) if spec.disks.os.size is not None else None,
        data_disks=tuple(DataDisk(d.name, quantity_to_bytes(d.size)) for d in spec.disks.data or ()),
        networks=tuple(n for n in networks if n),
        power=PowerState(spec.power_state.value),
        hostname=(spec.guest.hostname if spec.guest and spec.guest.hostname else meta.name),
        user_data=user_data,
    )
