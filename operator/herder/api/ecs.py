"""ElasticCloudServer: a VM created from an image, sized by vCPU, memory and disks (namespaced)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from herder.api.common import UUID_PATTERN, DeletionPolicy, SecretKeyRef, not_a_url
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    BackendName,
    HerderModel,
    KindInfo,
    Name,
    PendingTask,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)
from herder.api.quantities import Quantity, positive

MAX_DATA_DISKS = 15
MAX_NICS = 10
MAX_IPS = 16

#: Condition types the ECS controller writes (Ready summarises the others).
CONDITION_TYPES = ("Ready", "Provisioned", "PowerSynced", "ConfigSynced", "Paused")


class ImageKind(StrEnum):
    IMAGE = "Image"
    CLUSTER_IMAGE = "ClusterImage"


class PowerState(StrEnum):
    ON = "On"
    OFF = "Off"
    SUSPENDED = "Suspended"


class PowerCyclePolicy(StrEnum):
    MANUAL = "Manual"
    AUTOMATIC = "Automatic"


class ImageRef(HerderModel):
    """An Image in the server's namespace or a ClusterImage."""

    kind: ImageKind = Field(default=ImageKind.IMAGE, description="Image (same namespace) or ClusterImage.")
    name: Name = Field(description="Name of the Image or ClusterImage.")


def _no_shrink(path: str) -> dict[str, str]:
    return cel(
        "quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",
        f"{path} cannot shrink (disks only grow)",
    )


class OSDisk(HerderModel):
    """The boot disk, cloned from the image."""

    size: Quantity | None = Field(
        default=None,
        description="Size of the OS disk; grow-only. Unset: the image's disk size.",
        json_schema_extra=validations(_no_shrink("spec.disks.os.size"), positive("spec.disks.os.size")),
    )


class DataDisk(HerderModel):
    """An additional, empty disk."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Name of the disk, unique within the server (a DNS label).",
    )
    size: Quantity = Field(
        description="Size of the disk, e.g. 100Gi; grow-only.",
        json_schema_extra=validations(_no_shrink("spec.disks.data[].size"), positive("spec.disks.data[].size")),
    )
    datastore: BackendName | None = Field(
        default=None, description="Datastore for this disk. Unset: the server's datastore."
    )


class Disks(HerderModel):
    """The OS disk and data disks."""

    os: OSDisk = Field(default_factory=OSDisk, description="The OS (boot) disk.")
    data: list[DataDisk] | None = Field(
        default=None,
        max_length=MAX_DATA_DISKS,
        description="Data disks, keyed by name. Removing one from the list detaches and deletes it.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


class NetworkInterface(HerderModel):
    """One NIC."""

    network: BackendName | None = Field(
        default=None,
        description="Network (vCenter port group; SCVMM VM network). Unset: the zone's default network.",
    )


class Guest(HerderModel):
    """Guest customization, applied on first boot only."""

    hostname: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$",
        description="Guest host name. Unset: the object's name. (Windows truncates to 15 characters.)",
    )
    user_data: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding cloud-init user data (Linux). Default key: `userData`.",
    )
    sysprep: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding a sysprep unattend.xml (Windows). Default key: `unattend.xml`.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.userData) && has(self.sysprep))",
                "spec.guest: set at most one of userData and sysprep",
            )
        )
    )


class Placement(HerderModel):
    """Optional pinning inside the zone (a host, datastore or storage path of another zone is refused).
    Changing it migrates the server live (vCenter: vMotion / Storage vMotion; SCVMM: live / storage migration)."""

    host: BackendName | None = Field(
        default=None, description="Host to run on (vCenter: name or inventory path; SCVMM: name or FQDN; not a "
        "URL). Unset: the scheduler chooses.", json_schema_extra=validations(not_a_url("spec.placement.host"))
    )
    datastore: BackendName | None = Field(
        default=None, description="vCenter: datastore for the server's files. Unset: the zone's datastore.")
    storage_path: BackendName | None = Field(
        default=None, description="SCVMM: path on the hosts for the server's files (its folder is made under it), "
        "e.g. `D:\\VMs\\fast`. Unset: the zone's vmPath.")


class AdoptFrom(HerderModel):
    """An existing VM to take over instead of creating one."""

    unique_id: str = Field(
        pattern=UUID_PATTERN,
        alias="uniqueID",
        description="vCenter instance UUID or SCVMM VM ID of the VM to adopt (both are UUIDs, e.g. "
        "`4207a8b4-1111-2222-3333-444455556666`; not a managed object ID such as `vm-42`).",
    )


class ElasticCloudServerSpec(HerderModel):
    """The desired server."""

    image: ImageRef | None = Field(
        default=None,
        description="Image or ClusterImage to create the server from. Required unless adoptFrom is set. "
        "Changing it is accepted but not applied in place: the controller reports ConfigSynced=False "
        "(reason RecreateRequired) until the server is recreated (annotation herder.dev/recreate).",
    )
    availability_zone: Name | None = Field(
        default=None,
        description="AvailabilityZone to place the server in. Unset: herder chooses one (see status.zone), in "
        "spec.region when set. Immutable once set.",
    )
    region: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Region the server is placed in: the scheduler chooses among that region's zones only "
        "(a set spreads over them); an availabilityZone must be in it. Unset: any region. Immutable.",
    )
    resource_pool: Name | None = Field(
        default=None, description="ResourcePool to run in. Unset: the zone's root pool. Changes apply live."
    )
    cpu: int = Field(ge=1, le=768, description="Number of vCPUs.")
    memory: Quantity = Field(description="Memory, e.g. 4Gi (at least 4Mi; rounded up to a whole MiB).")
    disks: Disks = Field(default_factory=Disks, description="OS disk size and data disks.")
    networks: list[NetworkInterface] | None = Field(
        default=None,
        max_length=MAX_NICS,
        description="NICs, in order. Unset: one NIC on the zone's default network.",
    )
    power_state: PowerState = Field(default=PowerState.ON, description="On, Off or Suspended.")
    guest: Guest | None = Field(default=None, description="Guest customization (first boot only).")
    placement: Placement | None = Field(default=None, description="Optional host and datastore pinning.")
    power_cycle_policy: PowerCyclePolicy = Field(
        default=PowerCyclePolicy.MANUAL,
        description="Automatic: herder may power-cycle the server to apply CPU or memory changes that cannot "
        "be hot-added. Manual: such changes wait (ConfigSynced=False, reason PowerCycleRequired).",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the VM when the object is deleted; Orphan leaves it running.",
    )
    adopt_from: AdoptFrom | None = Field(
        default=None,
        description="Adopt an existing VM instead of creating one. Only at creation; immutable; requires "
        "availabilityZone.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.image) || has(self.adoptFrom)",
                "spec.image is required unless spec.adoptFrom is set",
            ),
            cel(
                "!has(self.adoptFrom) || has(self.availabilityZone)",
                "spec.availabilityZone is required with spec.adoptFrom",
                field_path=".availabilityZone",
            ),
            cel(
                "quantity(string(self.memory)).compareTo(quantity('4Mi')) >= 0",
                "spec.memory must be at least 4Mi",
                field_path=".memory",
            ),
        )
    )


def spec_transition_rules() -> dict[str, Any]:
    """Rules that compare with the stored object; on the ECS's spec only (not a set's template)."""
    return validations(
        cel(
            "!has(oldSelf.availabilityZone) || "
            "(has(self.availabilityZone) && self.availabilityZone == oldSelf.availabilityZone)",
            "spec.availabilityZone is immutable once set",
            field_path=".availabilityZone",
        ),
        cel(
            "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
            "spec.region is immutable (a server does not move between regions)",
            field_path=".region",
        ),
        cel(
            "has(oldSelf.adoptFrom) ? (has(self.adoptFrom) && self.adoptFrom == oldSelf.adoptFrom) : "
            "!has(self.adoptFrom)",
            "spec.adoptFrom can only be set when the server is created and is immutable",
            field_path=".adoptFrom",
        ),
    )


class ObservedDisk(HerderModel):
    """A disk as the backend reports it."""

    name: str = Field(max_length=128, description="Disk name (`os` for the boot disk).")
    size: Quantity = Field(description="Capacity.")
    datastore: str | None = Field(default=None, max_length=1024, description="Datastore holding the disk.")


class MeteredUsage(HerderModel):
    """Resource use accrued, for chargeback."""

    vcpu_seconds: float = Field(default=0, ge=0, description="vCPUs x seconds powered on.")
    memory_byte_seconds: float = Field(default=0, ge=0, description="Memory bytes x seconds powered on.")
    disk_byte_seconds: float = Field(default=0, ge=0, description="Provisioned disk bytes x seconds.")


class Metering(HerderModel):
    """Chargeback: what was accrued up to `since`, and the size and power the server has had since then."""

    since: datetime = Field(description="When the current size and power were first observed.")
    vcpus: int = Field(default=0, ge=0, description="vCPUs since then.")
    memory_bytes: int = Field(default=0, ge=0, description="Memory bytes since then.")
    disk_bytes: int = Field(default=0, ge=0, description="Provisioned disk bytes since then.")
    running: bool = Field(default=False, description="Powered on since then.")
    accrued: MeteredUsage = Field(default_factory=MeteredUsage, description="Use accrued up to `since`.")


class ElasticCloudServerStatus(Status):
    """The server as last observed. Bounded in size: lists are capped."""

    condition_types = CONDITION_TYPES

    phase: str | None = Field(
        default=None,
        max_length=32,
        description="Pending, Provisioning, Running, Stopped, Suspended, Deleting, Failed or Lost "
        "(informational; use conditions).",
    )
    unique_id: str | None = Field(
        default=None,
        max_length=128,
        alias="uniqueID",
        description="vCenter instance UUID or SCVMM VM ID: the server's identity on the backend.",
    )
    managed_object_id: str | None = Field(
        default=None, max_length=128, alias="managedObjectID", description="vCenter moref, e.g. vm-42."
    )
    zone: str | None = Field(default=None, max_length=253, description="AvailabilityZone the server is in.")
    resource_pool: str | None = Field(
        default=None, max_length=253, description="ResourcePool the server is in."
    )
    host: str | None = Field(default=None, max_length=1024, description="Host the server runs on.")
    datastore: str | None = Field(
        default=None, max_length=1024, description="Datastore of the server's files."
    )
    power_state: PowerState | None = Field(default=None, description="Observed power state.")
    ip_addresses: list[Annotated[str, Field(max_length=45)]] | None = Field(
        default=None, max_length=MAX_IPS, description="Guest IP addresses (from guest tools), primary first."
    )
    cpu: int | None = Field(default=None, ge=0, description="Observed vCPUs.")
    memory: Quantity | None = Field(default=None, description="Observed memory.")
    disks: list[ObservedDisk] | None = Field(
        default=None, max_length=MAX_DATA_DISKS + 1, description="Observed disks."
    )
    image: str | None = Field(
        default=None, max_length=128, description="uniqueID of the image the server was created from."
    )
    pending_task: PendingTask | None = Field(
        default=None, description="The backend task in flight; never started twice."
    )
    stopped_for_capture: str | None = Field(
        default=None, max_length=512,
        description="The herder.dev/stopped-for-capture hold this server is stopped for, once its VM is off: "
        "the image's go-ahead to clone it.",
    )
    restoring: str | None = Field(
        default=None, max_length=253,
        description="The ServerSnapshotRestore this server stands still for, once no task of its own is in flight: "
        "the restore's go-ahead to revert it.",
    )
    metering: Metering | None = Field(
        default=None, description="Chargeback, kept across operator restarts and downtime: written only when the "
        "observed size or power changes.")


class ElasticCloudServer(Resource):
    """An elastic cloud server: a VM created from an image."""

    kind: str = "ElasticCloudServer"
    spec: ElasticCloudServerSpec = Field(
        description="The desired server.", json_schema_extra=spec_transition_rules()
    )
    status: ElasticCloudServerStatus = Field(
        default_factory=ElasticCloudServerStatus, description="Observed state."
    )


KIND = KindInfo(
    model=ElasticCloudServer,
    kind="ElasticCloudServer",
    plural="elasticcloudservers",
    singular="elasticcloudserver",
    scope=Scope.NAMESPACED,
    short_names=("ecs",),
    printer_columns=(
        {"name": "Zone", "type": "string", "jsonPath": ".status.zone"},
        {"name": "CPU", "type": "integer", "jsonPath": ".spec.cpu"},
        {"name": "Memory", "type": "string", "jsonPath": ".spec.memory"},
        {"name": "Power", "type": "string", "jsonPath": ".status.powerState"},
        {"name": "IP", "type": "string", "jsonPath": ".status.ipAddresses[0]"},
        READY_COLUMN,
        REASON_COLUMN,
        {"name": "Host", "type": "string", "jsonPath": ".status.host", "priority": 1},
        {"name": "UUID", "type": "string", "jsonPath": ".status.uniqueID", "priority": 1},
        AGE_COLUMN,
    ),
)
