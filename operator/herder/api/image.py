"""Image (namespaced, private) and ClusterImage (cluster-scoped, public): VM templates."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from herder.api.common import DeletionPolicy, ProviderRef, url_rule
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    BackendName,
    HerderModel,
    KindInfo,
    Name,
    NamespaceName,
    PendingTask,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)
from herder.api.quantities import Quantity

#: The label the controller mirrors spec.frequentlyUsed to, so `kubectl get images -l` can filter.
FREQUENTLY_USED_LABEL = "herder.dev/frequently-used"
CHECKSUM_PATTERN = r"^sha256:[a-f0-9]{64}$"


class OSFamily(StrEnum):
    LINUX = "Linux"
    WINDOWS = "Windows"


class CapturePowerPolicy(StrEnum):
    """How a running server is captured."""

    LIVE = "Live"
    GUEST_SHUTDOWN = "GuestShutdown"
    POWER_OFF = "PowerOff"


class ImageFormat(StrEnum):
    OVA = "OVA"
    OVF = "OVF"
    VHD = "VHD"
    VHDX = "VHDX"


# What a URL's ending says its format is (a disk may be zipped), and the compressions a library cannot expand.
_FORMAT_ENDING = "[.](ova|ovf|vhd|vhdx|vhd[.]zip|vhdx[.]zip)([?#].*)?$"
_OVF_ENDING = "[.](ova|ovf)([?#].*)?$"
_UNEXPANDABLE = "[.](gz|xz|bz2|zst|7z|tar)([?#].*)?$"


class ExistingSource(HerderModel):
    """An existing template (vCenter), or a VM template or VHD/VHDX disk in the library (SCVMM), adopted as-is."""

    name: BackendName | None = Field(
        default=None,
        description="Template name (SCVMM: a VM template, else a library disk of that name, e.g. "
        "`ubuntu-22.04.vhdx`). Exactly one of name and path.",
    )
    path: BackendName | None = Field(
        default=None,
        description="vCenter: template inventory path, e.g. `/DC0/vm/templates/ubuntu-22.04`. SCVMM: the library "
        "path of a disk, e.g. `\\\\vmm01\\MSSCVMMLibrary\\VHDs\\ubuntu.vhdx`, or a template's ID.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("has(self.name) != has(self.path)", "spec.source.existing: set exactly one of name and path")
        )
    )


class FromServerSource(HerderModel):
    """Capture an ElasticCloudServer as a new template."""

    name: Name = Field(description="Name of the ElasticCloudServer to capture.")
    namespace: NamespaceName | None = Field(
        default=None,
        description="Namespace of the server. ClusterImage: required. Image: must be unset (the Image's own "
        "namespace is used).",
    )
    power_policy: CapturePowerPolicy = Field(
        default=CapturePowerPolicy.GUEST_SHUTDOWN,
        description="Live: capture the server as it runs (crash-consistent; it keeps running). GuestShutdown "
        "(shut the guest OS down; needs VMware Tools) or PowerOff (pull the power): a consistent capture of a "
        "stopped server. herder asks the ECS controller to stop the server this way (annotation "
        "herder.dev/stopped-for-capture on the ECS), captures it, then gives the ECS its declared power state "
        "back; the image reports StoppingServer meanwhile.",
    )


class URLSource(HerderModel):
    """Import an OVA/OVF (vCenter) or a VHD/VHDX disk, plain or zipped (SCVMM), over HTTP(S)."""

    url: str = Field(
        min_length=1,
        max_length=4096,
        pattern=r"^https?://[^\s]+$",
        description="http(s) URL of the OVA, OVF, VHD or VHDX file. SCVMM fetches a disk on the library server "
        "and expands a `.zip` there; gzip, xz and other compressions cannot be expanded by Windows PowerShell.",
        json_schema_extra=validations(url_rule("spec.source.url.url", ("http", "https"))),
    )
    checksum: str = Field(
        pattern=CHECKSUM_PATTERN,
        description="SHA-256 of the file as published (a zip: of the archive), as `sha256:<64 lowercase hex "
        "digits>`; the import fails on a mismatch, before anything uses the file.",
    )
    format: ImageFormat | None = Field(
        default=None,
        description="OVA, OVF (vCenter), VHD or VHDX (SCVMM). Unset: inferred from the URL's extension (then "
        "required to be one of .ova, .ovf, .vhd, .vhdx, .vhd.zip, .vhdx.zip).",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"has(self.format) || self.url.lowerAscii().matches('{_FORMAT_ENDING}')",
                "spec.source.url.format is required when the URL does not end in .ova, .ovf, .vhd, .vhdx, "
                ".vhd.zip or .vhdx.zip",
                field_path=".format",
            ),
            cel(
                f"!self.url.lowerAscii().matches('{_UNEXPANDABLE}')",
                "spec.source.url: a library server expands only .zip archives (Windows PowerShell 5.1's "
                "Expand-Archive); publish the disk uncompressed or zipped",
                field_path=".url",
            ),
        )
    )


class ImageSource(HerderModel):
    """Where the image comes from: exactly one of existing, fromServer and url. Immutable."""

    existing: ExistingSource | None = Field(default=None, description="Adopt an existing template.")
    from_server: FromServerSource | None = Field(default=None, description="Capture an ElasticCloudServer.")
    url: URLSource | None = Field(default=None, description="Import an image file over http(s).")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.existing) ? 1 : 0) + (has(self.fromServer) ? 1 : 0) + "
                "(has(self.url) ? 1 : 0) == 1",
                "spec.source: set exactly one of existing, fromServer and url",
            )
        )
    )


_LOCATION_RULE = cel(
    "!(has(self.provider) && has(self.availabilityZone)) && "
    "(has(self.source.fromServer) || has(self.provider) || has(self.availabilityZone))",
    "spec: set exactly one of provider and availabilityZone "
    "(both may be omitted only with source.fromServer)",
)


class ImageSpec(HerderModel):
    """Shared by Image and ClusterImage."""

    provider: ProviderRef | None = Field(
        default=None,
        description="The VCenter or SCVMM the template lives on. Set this or availabilityZone; with "
        "source.fromServer both may be omitted (the server's zone is used). Immutable.",
    )
    availability_zone: Name | None = Field(
        default=None,
        description="AvailabilityZone whose placement (datastore, folder, library share) receives imported "
        "or captured templates. Immutable.",
    )
    source: ImageSource = Field(description="Exactly one of existing, fromServer and url. Immutable.")
    os_family: OSFamily = Field(description="Linux or Windows; selects cloud-init or sysprep customization.")
    os_version: str | None = Field(
        default=None, max_length=128, description="Free-form OS name and version, e.g. `Ubuntu 22.04`."
    )
    frequently_used: bool = Field(
        default=False,
        description="Mark the image as frequently used. Mirrored to the label herder.dev/frequently-used, so "
        "`kubectl get images -l herder.dev/frequently-used=true` finds it.",
    )
    deletion_policy: DeletionPolicy | None = Field(
        default=None,
        description="Delete removes the template from the backend; Orphan leaves it. Unset: Orphan for "
        "source.existing (herder did not create it), Delete otherwise.",
    )


def _ovf(url: str) -> str:
    """CEL: the url source at `url` is an OVA or OVF package (declared, or by its ending)."""
    return (f"(has({url}.format) ? {url}.format in ['OVA', 'OVF'] : "
            f"{url}.url.lowerAscii().matches('{_OVF_ENDING}'))")


# What a backend known at apply time (spec.provider) cannot do is refused then; with an availabilityZone the backend
# is known only once the zone is read, and the image reports NotSupported instead.
_BACKEND_RULES = (
    cel(
        "!has(self.provider) || self.provider.kind != 'SCVMM' || !has(self.source.url) || "
        f"!{_ovf('self.source.url')}",
        "spec.source.url: an SCVMM imports VHD and VHDX disks (or a .zip of one); OVA and OVF images are for vCenter",
        field_path=".source.url",
    ),
    cel(
        "!has(self.provider) || self.provider.kind != 'VCenter' || !has(self.source.url) || "
        f"{_ovf('self.source.url')}",
        "spec.source.url: a VCenter imports OVA or OVF files; VHD and VHDX images are for SCVMM",
        field_path=".source.url",
    ),
    cel(
        "!has(self.provider) || self.provider.kind != 'SCVMM' || !has(self.source.fromServer) || "
        "!has(self.source.fromServer.powerPolicy) || self.source.fromServer.powerPolicy != 'Live'",
        "spec.source.fromServer.powerPolicy: VMM clones only stopped VMs, so Live is for vCenter; use "
        "GuestShutdown or PowerOff on SCVMM",
        field_path=".source.fromServer.powerPolicy",
    ),
)


def spec_rules(kind: str) -> dict[str, Any]:
    namespace_rule = (
        cel(
            "!has(self.source.fromServer) || has(self.source.fromServer.__namespace__)",
            "spec.source.fromServer.namespace is required for a ClusterImage",
            field_path=".source.fromServer.namespace",
        )
        if kind == "ClusterImage"
        else cel(
            "!has(self.source.fromServer) || !has(self.source.fromServer.__namespace__)",
            "spec.source.fromServer.namespace must be unset for an Image (its own namespace is used)",
            field_path=".source.fromServer.namespace",
        )
    )
    return validations(
        _LOCATION_RULE,
        namespace_rule,
        *_BACKEND_RULES,
        cel("self.source == oldSelf.source", "spec.source is immutable", field_path=".source"),
        cel(
            "has(self.provider) == has(oldSelf.provider) && "
            "(!has(self.provider) || self.provider == oldSelf.provider)",
            "spec.provider is immutable",
            field_path=".provider",
        ),
        cel(
            "has(self.availabilityZone) == has(oldSelf.availabilityZone) && "
            "(!has(self.availabilityZone) || self.availabilityZone == oldSelf.availabilityZone)",
            "spec.availabilityZone is immutable",
            field_path=".availabilityZone",
        ),
    )


class SourceUsed(HerderModel):
    """Where the template came from, as herder used it."""

    type: str = Field(max_length=16, description="existing, fromServer or url.")
    reference: str = Field(
        max_length=4096,
        description="The template path or name, the captured ECS (`namespace/name`), or the URL (without any "
        "user information).",
    )
    checksum: str | None = Field(default=None, max_length=71, description="The checksum the import was checked "
                                 "against (url).")


class ImageStatus(Status):
    """Observed state of the template."""

    phase: str | None = Field(
        default=None,
        max_length=32,
        description="Pending, Importing, Capturing, Available, Failed or Deleting (informational; use "
        "conditions).",
    )
    unique_id: str | None = Field(
        default=None,
        max_length=128,
        alias="uniqueID",
        description="Template instance UUID (vCenter) or VM template ID (SCVMM).",
    )
    managed_object_id: str | None = Field(
        default=None, max_length=128, alias="managedObjectID", description="vCenter moref of the template."
    )
    provider: ProviderRef | None = Field(default=None, description="The provider the template was found on.")
    path: str | None = Field(default=None, max_length=2048, description="Inventory or library path.")
    size: Quantity | None = Field(default=None, description="Total disk size of the template.")
    cpu: int | None = Field(default=None, ge=0, description="vCPUs of the template.")
    memory: Quantity | None = Field(default=None, description="Memory of the template.")
    guest_id: str | None = Field(
        default=None, max_length=128, alias="guestID", description="Guest OS identifier the template declares."
    )
    os_family: str | None = Field(
        default=None, max_length=16,
        description="Linux, Windows or Other, from the template's guest ID (spec.osFamily while it says none).",
    )
    source: SourceUsed | None = Field(default=None, description="The source that made the template.")
    progress: int | None = Field(
        default=None, ge=0, le=100, description="Percent of the image file transferred, while importing."
    )
    pending_task: PendingTask | None = Field(default=None, description="Import or capture task in flight.")


IMAGE_COLUMNS = (
    {"name": "OS", "type": "string", "jsonPath": ".spec.osFamily"},
    {"name": "FrequentlyUsed", "type": "boolean", "jsonPath": ".spec.frequentlyUsed"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "priority": 1},
    {"name": "UUID", "type": "string", "jsonPath": ".status.uniqueID", "priority": 1},
    READY_COLUMN,
    REASON_COLUMN,
    AGE_COLUMN,
)


class Image(Resource):
    """A private image: visible only in its namespace."""

    kind: str = "Image"
    spec: ImageSpec = Field(description="Source and properties.", json_schema_extra=spec_rules("Image"))
    status: ImageStatus = Field(default_factory=ImageStatus, description="Observed state.")


KIND = KindInfo(
    model=Image,
    kind="Image",
    plural="images",
    singular="image",
    scope=Scope.NAMESPACED,
    short_names=("img",),
    printer_columns=IMAGE_COLUMNS,
)
