"""Where an image's template lives: the backend connection, the placement for new templates, and the
status an available template reports. Shared by the image controller and its capture."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from herder.api import format_mib
from herder.api.clusterimage import ClusterImage
from herder.api.image import Image
from herder.api.zone import AvailabilityZone
from herder.controllers.lookups import Lookups
from herder.controllers.runtime import ProviderHandle, Runtime
from herder.providers.base import Images
from herder.providers.types import Placement, TemplateInfo, VCenterPlacement
from herder.reconcile.conditions import READY, Condition
from herder.reconcile.desired import Unresolvable, zone_placement

GIB = 1024**3
MIB = 1024**2


def template_name(kind: str, namespace: str | None, name: str) -> str:
    """Unique per image and never an ECS's VM name (`<namespace>.<name>`): `_` is not valid in a namespace."""
    return f"img_{namespace}.{name}" if kind == "Image" else f"cimg_{name}"



def size_text(size_bytes: int) -> str:
    if size_bytes and size_bytes % GIB == 0:
        return f"{size_bytes // GIB}Gi"
    if size_bytes % MIB == 0:
        return format_mib(size_bytes // MIB)
    return str(size_bytes)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- where the image lives ------------------------------------------------------------------------------------

def zone_named(lookups: Lookups, name: str) -> AvailabilityZone:
    body = lookups.zone(name)
    if body is None:
        raise Unresolvable("ZoneNotFound", f"AvailabilityZone {name} not found")
    return AvailabilityZone.model_validate(body)


def zone_placement_of(zone: AvailabilityZone, datacenter: str) -> Placement:
    if zone.spec.vcenter is None:
        raise Unresolvable("NotSupported", f"AvailabilityZone {zone.metadata.name} is not a vCenter zone")
    return zone_placement(zone, datacenter)


def locate(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
            server_zone: str | None = None) -> tuple[ProviderHandle, dict[str, str], Placement]:
    """(the connection, the provider reference for status, where new templates go)."""
    spec = image.spec
    zone_name = spec.availability_zone or (server_zone if spec.provider is None else None)
    if zone_name:
        zone = zone_named(lookups, zone_name)
        ref = zone.spec.provider
        handle = runtime.ready_provider(ref.kind.value, ref.name)
        return handle, {"kind": ref.kind.value, "name": ref.name}, zone_placement_of(zone, handle.datacenter)
    if spec.provider is None:
        raise Unresolvable("ZoneNotFound", "spec: set provider or availabilityZone (the server has no zone yet)")
    handle = runtime.ready_provider(spec.provider.kind.value, spec.provider.name)
    return (handle, {"kind": spec.provider.kind.value, "name": spec.provider.name},
            VCenterPlacement(datacenter=handle.datacenter))


def images_on(handle: ProviderHandle, provider: dict[str, str]) -> Images:
    images: Images | None = getattr(handle.provider, "images", None)
    if images is None:
        raise Unresolvable("NotSupported", f"{provider['kind']} {provider['name']}: images are not supported on "
                           "this backend yet (source.existing templates are used by name as given)")
    return images



def available(info: TemplateInfo, provider: dict[str, str]) -> tuple[list[Condition], dict[str, Any]]:
    fields = {"phase": "Available", "uniqueID": info.unique_id, "managedObjectID": info.ref, "provider": provider,
              "path": info.path, "size": size_text(info.size_bytes), "cpu": info.cpu,
              "memory": format_mib(info.memory_mib), "guestID": info.guest_id or None, "pendingTask": None,
              "progress": None}
    what = "template" if info.is_template else "VM (not marked as a template)"
    return [Condition(READY, True, "Available", f"{what} {info.path} ({info.unique_id})")], fields



def images_of(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
               server: dict[str, Any] | None) -> Images:
    """The backend the image's template is on: the one status recorded, else where it would be made."""
    recorded = image.status.provider
    if recorded is not None:
        handle = runtime.ready_provider(recorded.kind.value, recorded.name)
        return images_on(handle, {"kind": recorded.kind.value, "name": recorded.name})
    handle, provider, _ = locate(runtime, image, lookups, server_zone=((server or {}).get("status") or {}).get("zone"))
    return images_on(handle, provider)



