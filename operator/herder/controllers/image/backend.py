"""Where an image's template lives: the backend connection and the placement for new templates. Shared by
the image controller and its capture."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from herder.api.clusterimage import ClusterImage
from herder.api.common import ProviderKind
from herder.api.image import Image
from herder.api.zone import AvailabilityZone
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import ProviderHandle, Runtime
from herder.errors import Unresolvable
from herder.providers.base import Images
from herder.providers.types import Placement, SCVMMPlacement, VCenterPlacement
from herder.reasons import Reason
from herder.reconcile.vm_spec import zone_placement


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone_named(lookups: Lookups, name: str) -> AvailabilityZone:
    body = lookups.zone(name)
    if body is None:
        raise Unresolvable(Reason.ZONE_NOT_FOUND, f"AvailabilityZone {name} not found")
    return AvailabilityZone.model_validate(body)


def where(image: Image | ClusterImage, lookups: Lookups,
          server_zone: str | None = None) -> tuple[dict[str, str], Placement]:
    """(the provider reference for status, where new templates go)."""
    spec = image.spec
    zone_name = spec.availability_zone or (server_zone if spec.provider is None else None)
    if zone_name:
        zone = zone_named(lookups, zone_name)
        ref = zone.spec.provider
        return {"kind": ref.kind.value, "name": ref.name}, zone_placement(zone)
    if spec.provider is None:
        raise Unresolvable(Reason.ZONE_NOT_FOUND, "spec: set provider or availabilityZone (the server has no zone yet)")
    anywhere: Placement = VCenterPlacement() if spec.provider.kind is ProviderKind.VCENTER else SCVMMPlacement()
    return {"kind": spec.provider.kind.value, "name": spec.provider.name}, anywhere


def locate(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
           server_zone: str | None = None) -> tuple[ProviderHandle, dict[str, str], Placement]:
    """(the connection, the provider reference for status, where new templates go)."""
    provider, placement = where(image, lookups, server_zone)
    return runtime.ready_provider(provider["kind"], provider["name"]), provider, placement


def images_of(runtime: Runtime, image: Image | ClusterImage, lookups: Lookups,
              server: dict[str, Any] | None) -> Images:
    """The backend the image's template is on: the one status recorded, else where it would be made."""
    recorded = image.status.provider
    if recorded is not None:
        return runtime.ready_provider(recorded.kind.value, recorded.name).provider.images
    handle, _, _ = locate(runtime, image, lookups, server_zone=((server or {}).get("status") or {}).get("zone"))
    return handle.provider.images
