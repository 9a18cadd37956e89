"""Every herder kind in one place: the CRD generator, controllers and RBAC generation iterate over it."""

from __future__ import annotations

from herder.api import (
    clusterimage,
    ecs,
    ecsset,
    image,
    quota,
    resourcepool,
    restore,
    schedule,
    scvmm,
    snapshot,
    vcenter,
    zone,
)
from herder.api.metadata import KindInfo, Resource

KINDS: tuple[KindInfo, ...] = (
    vcenter.KIND,
    scvmm.KIND,
    zone.KIND,
    resourcepool.KIND,
    clusterimage.KIND,
    image.KIND,
    ecs.KIND,
    ecsset.KIND,
    snapshot.KIND,
    restore.KIND,
    quota.KIND,
    schedule.KIND,
)

BY_KIND: dict[str, KindInfo] = {info.kind: info for info in KINDS}
BY_PLURAL: dict[str, KindInfo] = {info.plural: info for info in KINDS}


def kind_info(kind_or_plural: str) -> KindInfo:
    """Look a kind up by its kind (``ElasticCloudServer``) or plural (``elasticcloudservers``)."""
    found = BY_KIND.get(kind_or_plural) or BY_PLURAL.get(kind_or_plural)
    if found is None:
        raise KeyError(f"unknown herder kind {kind_or_plural!r}")
    return found


def parse(body: dict[str, object]) -> Resource:
    """Validate a Kubernetes object (e.g. a Kopf body) into its model by its ``kind``."""
    kind = body.get("kind")
    if not isinstance(kind, str):
        raise ValueError("object has no kind")
    return kind_info(kind).model.model_validate(body)
