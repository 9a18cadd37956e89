"""ClusterImage: a public image made by administrators (cluster-scoped). Spec shared with Image."""

from __future__ import annotations

from pydantic import Field

from herder.api.image import IMAGE_COLUMNS, ImageSpec, ImageStatus, spec_rules
from herder.api.metadata import KindInfo, Resource, Scope
from herder.api.selectors import LabelSelector


class ClusterImageSpec(ImageSpec):
    """A public image, visible to every namespace the namespaceSelector allows."""

    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Namespaces whose ECSs may use this image. Unset or empty: every namespace.",
    )


class ClusterImage(Resource):
    """A public image made by administrators, optionally restricted to some namespaces."""

    kind: str = "ClusterImage"
    spec: ClusterImageSpec = Field(
        description="Source and properties.", json_schema_extra=spec_rules("ClusterImage")
    )
    status: ImageStatus = Field(default_factory=ImageStatus, description="Observed state.")


KIND = KindInfo(
    model=ClusterImage,
    kind="ClusterImage",
    plural="clusterimages",
    singular="clusterimage",
    scope=Scope.CLUSTER,
    short_names=("cimg",),
    printer_columns=IMAGE_COLUMNS,
)
