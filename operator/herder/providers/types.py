"""Backend-neutral values that cross the provider boundary. No backend library is imported here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from herder.api.ecs import PowerState
from herder.api.metadata import Operation as Operation  # noqa: PLC0414  re-exported: status records it, so the API defines it


class TaskStatus(enum.StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    # The backend no longer knows the task (expired from its history, or it never started).
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)  # never printed


@dataclass(frozen=True)
class TLSSettings:
    """Verification is on unless `insecure_skip_verify` was written explicitly."""

    ca_bundle: str | None = None
    thumbprint: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class VCenterPlacement:
    cluster: str | None = None
    host: str | None = None
    datastore: str | None = None
    network: str | None = None
    folder: str | None = None
    resource_pool: str | None = None  # inventory path of a vCenter resource pool


@dataclass(frozen=True)
class SCVMMPlacement:
    host_group: str | None = None
    cloud: str | None = None
    vm_path: str | None = None  # the zone's path on the hosts for VM files
    logical_network: str | None = None
    host: str | None = None
    storage_path: str | None = None  # a pinned path for the VM's files, instead of vm_path
    library_share: str | None = None  # UNC path of the share templates go to; None: the first library share


Placement = VCenterPlacement | SCVMMPlacement


@dataclass(frozen=True)
class DataDisk:
    name: str
    size_bytes: int


@dataclass(frozen=True)
class NICSpec:
    """One NIC a VM should have, in order: its network, and how it is addressed when it is made."""

    network: str
    vlan: int | None = None  # SCVMM: one of the VM network's VLANs
    mac: str | None = None  # upper case, colon-separated
    static: bool = False
    address: str | None = None  # "10.30.0.15/24"; static without one: the next free one of the subnet's pool
    gateway: str | None = None
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddressPool:
    """The static IP pool a static NIC takes its address from, as it stands (SCVMM)."""

    name: str
    available: int  # addresses not granted yet
    granted: frozenset[str] = frozenset()  # addresses already granted, without prefix length


@dataclass(frozen=True)
class Login:
    """An account from a Secret (a domain join's). The password is never printed."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class GuestSetup:
    """What the guest OS is told at its first boot, resolved from the ECS, its image and its Secrets. Values read
    from Secrets are never printed."""

    windows: bool = False  # the image's OS family
    hostname: str = ""  # the host name (Windows: the computer name, at most 15 characters)
    dns_domain: str | None = None  # Linux
    ssh_keys: tuple[str, ...] = ()  # Linux
    user_data: str | None = field(default=None, repr=False)  # Linux: cloud-init user data
    unattend: str | None = field(default=None, repr=False)  # Windows: a whole sysprep unattend.xml
    admin_password: str | None = field(default=None, repr=False)  # Windows
    time_zone: int | None = None  # Windows time zone index
    product_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    domain: str | None = None  # Windows: the Active Directory domain to join, with `domain_join`
    domain_join: Login | None = None
    workgroup: str | None = None
    first_logon: tuple[str, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Every value from a Secret, for a backend to keep out of what it reports."""
        values = (self.user_data, self.unattend, self.admin_password, self.product_key,
                  self.domain_join.password if self.domain_join else None)
        return tuple(v for v in values if v)


@dataclass(frozen=True)
class VMSpec:
    """What one ECS asks of its backend, already resolved from the zone, image and Secrets."""

    uid: str  # the ECS's metadata.uid: the VM's identity on the backend
    name: str  # the VM's name, unique per ECS
    template: str  # template path, name or ID, as the image adopted it
    cpu: int
    memory_mib: int
    placement: Placement
    os_disk_bytes: int | None = None
    data_disks: tuple[DataDisk, ...] = ()
    networks: tuple[NICSpec, ...] = ()
    power: PowerState = PowerState.ON
    guest: GuestSetup = field(default_factory=GuestSetup)


@dataclass(frozen=True, slots=True)  # the inventory holds one per disk of each VM
class ObservedDisk:
    key: str  # backend-specific device key or ID
    size_bytes: int
    name: str | None = None  # herder's data-disk name, when herder made it
    is_os_disk: bool = False


@dataclass(frozen=True, slots=True)  # the inventory holds one per NIC of each VM
class ObservedNIC:
    key: str  # backend-specific device key or adapter ID
    network: str | None = None
    mac: str | None = None  # upper case, colon-separated
    vlan: int | None = None
    addresses: tuple[str, ...] = ()  # as the guest reports them


@dataclass(frozen=True, slots=True)  # the inventory holds one per VM
class ObservedVM:
    """A VM as the backend reports it."""

    unique_id: str  # instance UUID (vCenter) or VM ID (SCVMM)
    ref: str  # managed object ID (vCenter) or VM ID (SCVMM)
    name: str
    power: PowerState
    cpu: int
    memory_mib: int
    owner_uid: str | None = None  # the ECS UID herder marked the VM with
    disks: tuple[ObservedDisk, ...] = ()
    nics: tuple[ObservedNIC, ...] = ()  # in slot order
    disks_known: bool = True  # False when the reading left devices (disks, NICs) out (a cheap watch update)
    host: str | None = None
    datastore: str | None = None
    resource_pool: str | None = None
    ip_addresses: tuple[str, ...] = ()
    hostname: str | None = None  # as the guest reports it
    guest_os: str | None = None
    cpu_hot_add: bool = False
    memory_hot_add: bool = False
    nic_hot_plug: bool = True  # NICs can be added and removed while it runs
    mac_hot_change: bool = True  # a NIC's MAC address can change while it runs
    busy: bool = False  # the backend is changing it (e.g. SCVMM UnderCreation/UnderUpdate)
    snapshots: frozenset[str] = frozenset()  # unique IDs of its snapshots (checkpoints), whatever made them


@dataclass(frozen=True)
class VMLocation:
    """Where a VM sits in the backend's inventory: what adoption is checked against."""

    host: str | None = None  # the host it runs on
    folder: str | None = None  # vCenter: inventory path of its VM folder, e.g. /DC0/vm/tenant-a
    vm_root: str | None = None  # vCenter: the datacenter's VM folder, e.g. /DC0/vm (folder paths start there)
    compute: str | None = None  # vCenter: its cluster (or a stand-alone host's compute resource)
    host_group: str | None = None  # SCVMM: its host group path, e.g. All Hosts\Zone-A
    cloud: str | None = None  # SCVMM: the cloud it is deployed to


# The ID of a task that had nothing to do: the backend was already as asked.
DONE = "done:"


@dataclass(frozen=True)
class TaskRef:
    id: str
    operation: Operation

    @classmethod
    def nothing_to_do(cls, operation: Operation, ref: str = "") -> TaskRef:
        return cls(f"{DONE}{ref}", operation)

    @property
    def finished(self) -> bool:
        """The backend had nothing to do: there is no task to follow."""
        return self.id.startswith(DONE)

    def finished_result(self) -> TaskResult:
        """What a task that had nothing to do resulted in: success, with the object it was about."""
        return TaskResult(TaskStatus.SUCCEEDED, result_ref=self.id[len(DONE):] or None)


@dataclass(frozen=True)
class TaskResult:
    status: TaskStatus
    error: str | None = None
    result_ref: str | None = None  # e.g. the VM a clone produced


@dataclass(frozen=True)
class VMChange:
    """One reconfiguration, applied in a single backend call where the backend allows it."""

    cpu: int | None = None
    memory_mib: int | None = None
    grow_disks: tuple[tuple[str, int], ...] = ()  # (disk key, new size in bytes)
    add_disks: tuple[DataDisk, ...] = ()
    remove_disks: tuple[str, ...] = ()  # disk keys
    add_nics: tuple[NICSpec, ...] = ()
    change_nics: tuple[tuple[str, NICSpec], ...] = ()  # (NIC key, its network, VLAN and MAC as wanted)
    remove_nics: tuple[str, ...] = ()  # NIC keys

    def is_empty(self) -> bool:
        return not (self.cpu or self.memory_mib or self.grow_disks or self.add_disks or self.remove_disks
                    or self.add_nics or self.change_nics or self.remove_nics)


@dataclass(frozen=True)
class Relocation:
    """Where a VM moves to, live; each part left None (or False) stays as it is."""

    host: str | None = None  # a host's name or inventory path, as the spec pins it
    storage: str | None = None  # vCenter: a datastore; SCVMM: a path on the hosts for the VM's files
    pool: bool = False  # into the pool of the zone placement given with it (vCenter pool / VMM cloud)

    def is_empty(self) -> bool:
        return not (self.host or self.storage or self.pool)

    def describe(self) -> str:
        parts = [f"host {self.host}" if self.host else "", f"storage {self.storage}" if self.storage else "",
                 "the pool" if self.pool else ""]
        return " and ".join(p for p in parts if p) or "where it is"


@dataclass(frozen=True)
class EndpointInfo:
    version: str
    instance_uuid: str
    product: str = ""


@dataclass(frozen=True)
class TemplateInfo:
    """A VM template (image) as the backend reports it."""

    unique_id: str  # instance UUID (vCenter) or VM template ID (SCVMM)
    ref: str  # managed object ID (vCenter)
    name: str
    path: str  # inventory path, e.g. /DC0/vm/templates/ubuntu
    cpu: int
    memory_mib: int
    size_bytes: int  # total capacity of its disks
    guest_id: str = ""
    is_template: bool = True  # False: an ordinary VM (usable as a clone source, but not marked)
    owner_uid: str | None = None  # the Image/ClusterImage UID that made it (herder-made templates only)




# -- snapshots -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotSpec:
    """One ServerSnapshot to take. The provider writes `uid`, its identity, into the backend snapshot's name and
    description (`herder.providers.marks`)."""

    uid: str  # the ServerSnapshot's metadata.uid
    label: str  # what the name starts with: the ServerSnapshot's name
    description: str | None = None  # the user's text
    memory: bool = False
    quiesce: bool = False


@dataclass(frozen=True)
class ObservedSnapshot:
    """A snapshot (vCenter) or checkpoint (SCVMM) as the backend reports it."""

    unique_id: str  # vCenter snapshot moref, SCVMM checkpoint ID
    name: str
    created: datetime
    owner_uid: str | None = None  # the ServerSnapshot UID its name or description carries
    parent_id: str | None = None  # the snapshot it was taken on top of
    parent_owner_uid: str | None = None  # and the ServerSnapshot UID that one carries
    power: PowerState | None = None  # the VM's power state a revert brings back, where the backend says
    size_bytes: int | None = None  # disk space it takes, where the backend says


# -- resource pools -------------------------------------------------------------------------------------------


class SharesLevel(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Allocation:
    """One resource of a pool: CPU in MHz, memory in MiB. `limit` None is unlimited."""

    reservation: int = 0
    limit: int | None = None
    shares_level: SharesLevel = SharesLevel.NORMAL
    shares: int | None = None  # only with CUSTOM
    expandable_reservation: bool = True


@dataclass(frozen=True)
class Counts:
    """What a pool's servers add up to, as a VMM cloud counts it: as limits (None: unlimited) or as usage."""

    servers: int | None = None
    vcpus: int | None = None
    memory_mib: int | None = None
    storage_gib: int | None = None


@dataclass(frozen=True)
class PoolSpec:
    """A resource pool to create or update.

    vCenter: under `parent`, the zone's placement, whose `resource_pool` (an inventory path: the parent
    ResourcePool's, else the zone's) or else cluster/host root pool holds it; `cpu` and `memory` apply.
    SCVMM: a cloud named `name`, scoped to `parent`'s host group (or the host groups of its cloud), with
    `limits` as its capacity. `uid` marks the backend object as this pool's."""

    name: str
    parent: Placement
    cpu: Allocation = field(default_factory=Allocation)
    memory: Allocation = field(default_factory=Allocation)
    limits: Counts = field(default_factory=Counts)
    uid: str = ""


@dataclass(frozen=True)
class PoolUsage:
    """The backend's runtime view of one resource (CPU MHz or memory MiB); None where it says nothing."""

    reservation_used: int | None = None
    available: int | None = None  # still reservable by VMs (unreservedForVm)
    usage: int | None = None  # current consumption (overallUsage)


@dataclass(frozen=True)
class ObservedPool:
    ref: str
    name: str
    path: str  # absolute inventory path, e.g. /DC0/host/DC0_C0/Resources/team-a
    cpu: Allocation
    memory: Allocation
    vms: int = 0  # VMs directly in the pool
    children: int = 0  # child pools
    cpu_usage: PoolUsage = field(default_factory=PoolUsage)
    memory_usage: PoolUsage = field(default_factory=PoolUsage)
    limits: Counts = field(default_factory=Counts)  # a VMM cloud's capacity (vCenter: none)
    used: Counts = field(default_factory=Counts)  # what its servers use of it (vCenter: none)


# -- availability zones ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneMembers:
    """What a pinned host or storage must be one of to be in the zone: vCenter, its cluster's (or stand-alone
    host's) hosts and the datastores it mounts; SCVMM, its host groups' hosts (names as VMM gives them, FQDNs) and
    the paths VM files may go under (the zone's vmPath and its hosts' placement paths)."""

    hosts: tuple[str, ...]
    storage: tuple[str, ...]


@dataclass(frozen=True)
class ZoneCapacity:
    """The compute behind a zone (its cluster, host or host group): totals of the hosts that can run VMs
    (connected, not in maintenance) and what they use now, as the backend reports it."""

    ref: str  # moref of the cluster or host, or the host group ID
    hosts: int
    cpus: int  # logical CPUs
    memory_mib: int
    memory_used_mib: int
    cpu_mhz: int | None = None  # None where the backend does not say (SCVMM)
    cpu_used_mhz: int | None = None

    @property
    def memory_free_mib(self) -> int:
        return max(self.memory_mib - self.memory_used_mib, 0)
