"""Backend-neutral values that cross the provider boundary. No backend library is imported here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class PowerState(enum.StrEnum):
    ON = "On"
    OFF = "Off"
    SUSPENDED = "Suspended"


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
    datacenter: str
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
    vm_path: str | None = None
    logical_network: str | None = None
    host: str | None = None


Placement = VCenterPlacement | SCVMMPlacement


@dataclass(frozen=True)
class DataDisk:
    name: str
    size_bytes: int


@dataclass(frozen=True)
class ServerSpec:
    """What one ECS asks of its backend, already resolved from the zone, image and Secrets."""

    uid: str  # the ECS's metadata.uid: the VM's identity on the backend
    name: str  # the VM's name, unique per ECS
    template: str  # template path, name or ID, as the image adopted it
    cpu: int
    memory_mib: int
    placement: Placement
    os_disk_bytes: int | None = None
    data_disks: tuple[DataDisk, ...] = ()
    networks: tuple[str, ...] = ()
    power: PowerState = PowerState.ON
    hostname: str | None = None
    user_data: str | None = field(default=None, repr=False)  # from a Secret: never printed


@dataclass(frozen=True)
class ObservedDisk:
    key: str  # backend-specific device key or ID
    size_bytes: int
    name: str | None = None  # herder's data-disk name, when herder made it
    is_os_disk: bool = False


@dataclass(frozen=True)
class ObservedServer:
    """A VM as the backend reports it."""

    unique_id: str  # instance UUID (vCenter) or VM ID (SCVMM)
    ref: str  # managed object ID (vCenter) or VM ID (SCVMM)
    name: str
    power: PowerState
    cpu: int
    memory_mib: int
    owner_uid: str | None = None  # the ECS UID herder marked the VM with
    disks: tuple[ObservedDisk, ...] = ()
    disks_known: bool = True  # False when the reading left devices out (a cheap watch update)
    host: str | None = None
    datastore: str | None = None
    resource_pool: str | None = None
    ip_addresses: tuple[str, ...] = ()
    cpu_hot_add: bool = False
    memory_hot_add: bool = False
    busy: bool = False  # the backend is changing it (e.g. SCVMM UnderCreation/UnderUpdate)


@dataclass(frozen=True)
class TaskRef:
    id: str
    operation: str


@dataclass(frozen=True)
class TaskResult:
    status: TaskStatus
    error: str | None = None
    result_ref: str | None = None  # e.g. the VM a clone produced


@dataclass(frozen=True)
class ServerChange:
    """One reconfiguration, applied in a single backend call where the backend allows it."""

    cpu: int | None = None
    memory_mib: int | None = None
    grow_disks: tuple[tuple[str, int], ...] = ()  # (disk key, new size in bytes)
    add_disks: tuple[DataDisk, ...] = ()
    remove_disks: tuple[str, ...] = ()  # disk keys

    def is_empty(self) -> bool:
        return not (self.cpu or self.memory_mib or self.grow_disks or self.add_disks or self.remove_disks)


@dataclass(frozen=True)
class EndpointInfo:
    version: str
    instance_uuid: str
    product: str = ""
