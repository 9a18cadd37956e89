"""Which image an ECS may use, and which template it clones: the visibility rules of Image and ClusterImage.

- An ECS sees the Images of its own namespace (there is no namespace on `spec.image`) and the ClusterImages
  whose `namespaceSelector` matches its namespace's labels (unset or empty: every namespace).
- It clones the template the image controller resolved (`status.uniqueID`, else `status.path`) once the
  image is Ready, and waits (`ImageNotReady`) while a capture or import is under way. A `source.existing`
  image whose status is not written yet (or whose backend has no image support) is used by its spec.
"""

from __future__ import annotations

from herder.api.clusterimage import ClusterImage
from herder.api.ecs import ImageKind
from herder.api.image import ExistingSource, Image, ImageSource, ImageSpec, ImageStatus, OSFamily
from herder.api.metadata import ConditionStatus
from herder.controllers.shared.indexes import Lookups
from herder.errors import Unresolvable
from herder.reasons import Reason
from herder.reconcile.selectors import selector_matches

#: Why an image controller could not look at an `existing` template; the ECS then clones it by its spec.
_UNCHECKED = frozenset({Reason.NOT_SUPPORTED, Reason.PROVIDER_NOT_READY})


def _ready(status: ImageStatus) -> tuple[bool | None, str, str]:
    """(Ready: True/False/None when unset, reason, message)."""
    cond = status.condition("Ready")
    if cond is None:
        return None, "", ""
    return cond.status == ConditionStatus.TRUE, cond.reason, cond.message


def image_for(namespace: str, kind: ImageKind, name: str, lookups: Lookups, *, provisioned: bool = False) -> ImageSpec:
    """The image spec an ECS of `namespace` clones from, with the resolved template as `source.existing`.

    `provisioned`: the ECS already has its VM. A clone is independent of its image, so an image that was
    deleted, restricted or broken since then does not fail the ECS (only a re-create would need it).
    """
    try:
        return _image_for(namespace, kind, name, lookups)
    except Unresolvable as exc:
        if not provisioned:
            raise
        gone = f"({kind.value} {name}: {exc.reason})"
        return ImageSpec.model_construct(source=ImageSource.model_construct(
            existing=ExistingSource.model_construct(name=gone, path=None), from_server=None, url=None),
            os_family=OSFamily.LINUX)


def _image_for(namespace: str, kind: ImageKind, name: str, lookups: Lookups) -> ImageSpec:
    status: ImageStatus
    if kind is ImageKind.IMAGE:
        body = lookups.image(namespace, name)
        if body is None:
            raise Unresolvable(Reason.IMAGE_NOT_FOUND, f"Image {name} not found in namespace {namespace}")
        image = Image.model_validate(body)
        spec: ImageSpec = image.spec
        status = image.status
    else:
        body = lookups.cluster_image(name)
        if body is None:
            raise Unresolvable(Reason.IMAGE_NOT_FOUND, f"ClusterImage {name} not found")
        cluster_image = ClusterImage.model_validate(body)
        selector = cluster_image.spec.namespace_selector
        if not selector_matches(selector, lookups.namespace_labels(namespace) or {}):
            raise Unresolvable(Reason.IMAGE_NOT_ALLOWED,
                               f"ClusterImage {name} is not available to namespace {namespace} "
                               "(its namespaceSelector does not match the namespace's labels)")
        spec, status = cluster_image.spec, cluster_image.status
    ready, reason, message = _ready(status)
    template = (status.unique_id or status.path) if ready else None
    if template:
        return spec.model_copy(update={"source": ImageSource(existing=ExistingSource(name=template))})
    if spec.source.existing is not None and (ready is None or Reason.parse(reason) in _UNCHECKED):
        return spec
    why = f" ({reason}: {message})" if reason else ""
    raise Unresolvable(Reason.IMAGE_NOT_READY, f"{kind.value} {name} is not ready yet{why}")
