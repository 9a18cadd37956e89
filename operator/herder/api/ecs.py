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


IPV4 = r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$"
IPV4_CIDR = IPV4[:-1] + r"/([0-9]|[12][0-9]|3[0-2])$"
MAX_DNS_SERVERS = 4


class Addressing(StrEnum):
    DHCP = "DHCP"
    STATIC = "Static"


class IPv4Settings(HerderModel):
    """A static IPv4 configuration, applied with the guest's first-boot customization."""

    address: str | None = Field(
        default=None, max_length=18, pattern=IPV4_CIDR,
        description="Address and prefix length, e.g. `10.30.0.15/24`. Unset (SCVMM only): the next free address "
        "of the static IP pool of the NIC's VM subnet.",
    )
    gateway: str | None = Field(default=None, max_length=15, pattern=IPV4, description="Default gateway.")
    dns_servers: list[Annotated[str, Field(max_length=15, pattern=IPV4)]] | None = Field(
        default=None, max_length=MAX_DNS_SERVERS, description="DNS servers, in order.",
    )


class NetworkInterface(HerderModel):
    """One NIC, by network name; NICs are kept in order (the first is the template's adapter)."""

    network: BackendName | None = Field(
        default=None,
        description="Network (vCenter: port group or distributed port group; SCVMM: VM network). Unset: the zone's "
        "default network.",
    )
    vlan: int | None = Field(
        default=None, ge=1, le=4094,
        description="SCVMM: one of the VM network's VLANs. Unset: the VM network's first subnet. vCenter: a port "
        "group fixes its VLAN, so this is refused there.",
    )
    mac_address: str | None = Field(
        default=None, max_length=17, pattern=r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$",
        description="A static MAC address, e.g. `00:50:56:3f:00:10`. Unset: the backend assigns one. On SCVMM a "
        "MAC changes only while the server is stopped (see powerCyclePolicy).",
    )
    addressing: Addressing = Field(
        default=Addressing.DHCP,
        description="DHCP, or Static with ipv4 (vCenter: through the customization at the clone; SCVMM: from a static "
        "IP pool, or the given address). Applied when the NIC is made; changing it later needs a re-create.",
    )
    ipv4: IPv4Settings | None = Field(default=None, description="The static IPv4 configuration (addressing: Static).")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("self.addressing == 'Static' || !has(self.ipv4)",
                "spec.networks[]: ipv4 is for addressing: Static", field_path=".ipv4"),
        )
    )


class LocalSecretRef(HerderModel):
    """A Secret in the referring object's namespace, whose keys the field names."""

    name: Name = Field(description="Name of the Secret, in the same namespace as the referring object.")


_DOMAIN = r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$"


class WindowsGuest(HerderModel):
    """Windows first-boot settings: vCenter applies them with a CustomizationSysprep at clone, SCVMM with the guest OS
    profile parameters of New-SCVirtualMachine."""

    administrator: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding the local Administrator's new password. Default key: `password`. Unset: the "
        "template's.",
    )
    time_zone: int | None = Field(
        default=None, ge=0, le=300,
        description="Windows time zone index (Microsoft's table: 4 Pacific, 35 Eastern, 85 GMT, 110 W. Europe, ...).",
    )
    product_key: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){4}$", max_length=29,
        description="Product key, five groups of five characters.",
    )
    organization: str | None = Field(
        default=None, min_length=1, max_length=64, description="Registered organization. Unset: `herder`."
    )
    domain: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=_DOMAIN,
        description="Active Directory domain to join (needs domainJoin). Exclusive with workgroup.",
    )
    domain_join: LocalSecretRef | None = Field(
        default=None,
        description="Secret with the keys `username` and `password` of an account allowed to join computers to "
        "the domain.",
    )
    workgroup: str | None = Field(
        default=None, min_length=1, max_length=15, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$",
        description="Workgroup to join instead of a domain.",
    )
    first_logon_commands: list[Annotated[str, Field(min_length=1, max_length=1024)]] | None = Field(
        default=None, max_length=16,
        description="Commands run once, in order, at the first logon (GuiRunOnce). Not a place for secrets: "
        "the backend keeps them in the VM's configuration.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("!(has(self.domain) && has(self.workgroup))",
                "spec.guest.windows: set at most one of domain and workgroup"),
            cel("has(self.domain) == has(self.domainJoin)",
                "spec.guest.windows: domain and domainJoin go together (the Secret holds the joining account)",
                field_path=".domainJoin"),
        )
    )


class Guest(HerderModel):
    """Guest customization, applied on first boot only: changing it, or the Secrets it names, does not customize an
    existing server again."""

    hostname: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$",
        description="Guest host name (Windows: the computer name, cut to 15 characters). Unset: the object's name.",
    )
    dns_domain: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=_DOMAIN,
        description="Linux: the DNS domain of the host name (vCenter: cloud-init and LinuxPrep; SCVMM: "
        "-LinuxDomainName).",
    )
    ssh_authorized_keys: list[Annotated[str, Field(min_length=1, max_length=8192,
                                                   pattern=r"^(ssh|ecdsa|sk)-[-@.A-Za-z0-9]+ ")]] | None = Field(
        default=None, max_length=16,
        description="Linux: public SSH keys authorized to log in (vCenter: cloud-init's public-keys; SCVMM: "
        "-LinuxAdministratorSSHKeyString, which carries one key).",
    )
    user_data: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding cloud-init user data (Linux; vCenter only: SCVMM has no way to pass it). "
        "Default key: `userData`.",
    )
    sysprep: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding a whole sysprep unattend.xml (Windows; vCenter only), instead of windows. "
        "Default key: `unattend.xml`.",
    )
    windows: WindowsGuest | None = Field(default=None, description="Windows first-boot settings.")

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.userData) && has(self.sysprep))",
                "spec.guest: set at most one of userData and sysprep",
            ),
            cel(
                "!(has(self.sysprep) && has(self.windows))",
                "spec.guest: sysprep is a whole unattend.xml; set it or windows, not both",
            ),
            cel(
                "!((has(self.windows) || has(self.sysprep)) && "
                "(has(self.userData) || has(self.sshAuthorizedKeys) || has(self.dnsDomain)))",
                "spec.guest: Linux settings (userData, sshAuthorizedKeys, dnsDomain) and Windows settings (windows, "
                "sysprep) cannot be mixed",
            ),
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
        description="NICs, in order. Unset: one NIC on the zone's default network at creation, left as it is "
        "afterwards. Set: NICs are added, removed and moved to other networks to match, on a running server where "
        "the backend allows (else as powerCyclePolicy says).",
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


class ObservedNIC(HerderModel):
    """A NIC as the backend and the guest report it."""

    network: str | None = Field(default=None, max_length=256, description="The network it is connected to.")
    mac_address: str | None = Field(default=None, max_length=17, description="Its MAC address.")
    vlan: int | None = Field(default=None, ge=0, le=4094, description="Its VLAN (SCVMM).")
    ip_addresses: list[Annotated[str, Field(max_length=45)]] | None = Field(
        default=None, max_length=MAX_IPS, description="The addresses the guest reports on it.")


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
    hostname: str | None = Field(
        default=None, max_length=255,
        description="The host name the guest reports (vCenter: VMware Tools; SCVMM: the VM's computer name).",
    )
    networks: list[ObservedNIC] | None = Field(
        default=None, max_length=MAX_NICS + 2, description="The NICs, in order, with what the guest reports on them."
    )
    guest_os: str | None = Field(
        default=None, max_length=256, alias="guestOS",
        description="The guest operating system the backend reports, e.g. `Ubuntu Linux 22.04 (64 bit)`.",
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
        {"name": "Hostname", "type": "string", "jsonPath": ".status.hostname", "priority": 1},
        {"name": "Host", "type": "string", "jsonPath": ".status.host", "priority": 1},
        {"name": "UUID", "type": "string", "jsonPath": ".status.uniqueID", "priority": 1},
        AGE_COLUMN,
    ),
)
