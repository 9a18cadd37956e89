"""AvailabilityZone: a failure domain in a region, mapped onto vCenter or SCVMM placement (cluster-scoped)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from herder.api.common import ProviderRef
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    BackendName,
    HerderModel,
    KindInfo,
    Resource,
    Scope,
    Status,
    cel,
    immutable,
    validations,
)
from herder.api.quantities import Quantity
from herder.api.selectors import LabelSelector

MAX_ADOPTION_SOURCES = 32


class VCenterPlacement(HerderModel):
    """Where the zone's VMs go in vCenter. Names are relative to the VCenter's datacenter; inventory paths
    are accepted too."""

    cluster: BackendName | None = Field(
        default=None, description="Compute cluster. Exactly one of cluster and host."
    )
    host: BackendName | None = Field(
        default=None, description="Stand-alone ESXi host. Exactly one of cluster and host."
    )
    datastore: BackendName = Field(description="Default datastore for VM disks.")
    network: BackendName = Field(description="Default network (port group) for VM NICs.")
    folder: BackendName = Field(description="VM folder that holds the zone's VMs, e.g. `vm` or `vm/herder`.")
    resource_pool: BackendName | None = Field(
        default=None,
        description="Root resource pool for the zone's VMs and ResourcePools. Unset: the cluster's (or "
        "host's) root pool.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.cluster) != has(self.host)",
                "spec.vcenter: set exactly one of cluster and host",
            )
        )
    )


class SCVMMPlacement(HerderModel):
    """Where the zone's VMs go in SCVMM."""

    host_group: BackendName | None = Field(
        default=None,
        description="Host group path, e.g. `All Hosts\\\\Zone-A`. At least one of hostGroup and cloud.",
    )
    cloud: BackendName | None = Field(
        default=None,
        description="VMM cloud whose capacity limits apply. At least one of hostGroup and cloud.",
    )
    library_share: BackendName = Field(
        description="Library share for templates and imported disks, e.g. `\\\\\\\\vmm01\\\\MSSCVMMLibrary`."
    )
    vm_path: BackendName = Field(description="Path on the hosts where VM files are placed, e.g. `C:\\\\VMs`.")
    logical_network: BackendName = Field(description="Default logical network for VM NICs.")
    vm_network: BackendName | None = Field(
        default=None, description="VM network on the logical network. Unset: the logical network's default."
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.hostGroup) || has(self.cloud)",
                "spec.scvmm: set at least one of hostGroup and cloud",
            )
        )
    )


class AdoptionPolicy(HerderModel):
    """Who may take over existing VMs of the zone (ElasticCloudServer spec.adoptFrom), and from where. Only a VM
    that no herder object claims, inside the zone's placement and one of these folders or host groups, is
    adopted; anything else is refused (AdoptionRefused) and left untouched."""

    allowed_namespaces: LabelSelector = Field(
        description="Namespaces whose servers may adopt VMs here. An empty selector ({}) selects every namespace."
    )
    folders: list[BackendName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ADOPTION_SOURCES,
        description="VCenter zones: VM folders whose VMs (subfolders included) may be adopted, as inventory paths "
        "or relative to the datacenter's VM folder (`vm/tenant-a` or `tenant-a`).",
    )
    host_groups: list[BackendName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ADOPTION_SOURCES,
        description="SCVMM zones: host group paths whose VMs (child groups included) may be adopted, e.g. "
        "`All Hosts\\\\Zone-A\\\\Tenant-A`.",
    )


class AvailabilityZoneSpec(HerderModel):
    """A power- and network-isolated failure domain in a region."""

    region: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Region the zone belongs to (a DNS label, e.g. `eu-west-1`).",
    )
    provider: ProviderRef = Field(
        description="The VCenter or SCVMM that hosts the zone. Immutable.",
        json_schema_extra=validations(immutable("spec.provider")),
    )
    vcenter: VCenterPlacement | None = Field(
        default=None, description="Placement on vCenter. Required when provider.kind is VCenter."
    )
    scvmm: SCVMMPlacement | None = Field(
        default=None, description="Placement on SCVMM. Required when provider.kind is SCVMM."
    )
    allowed_namespaces: LabelSelector | None = Field(
        default=None,
        description="Namespaces whose ECSs may be placed in this zone. Unset or empty: every namespace.",
    )
    allowed_networks: list[BackendName] | None = Field(
        default=None, max_length=64,
        description="The networks (port groups; SCVMM VM networks) this zone's servers may use. Unset: any network. "
        "An ECS naming another is refused before anything is made (NetworkNotAllowed).",
    )
    adoption: AdoptionPolicy | None = Field(
        default=None,
        description="Opens the zone to adopting existing VMs (spec.adoptFrom of an ECS). Unset: no namespace may "
        "adopt here.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.provider.kind == 'VCenter' ? (has(self.vcenter) && !has(self.scvmm)) : "
                "(has(self.scvmm) && !has(self.vcenter))",
                "spec: set exactly one of vcenter and scvmm, matching spec.provider.kind",
            ),
            cel(
                "!has(self.adoption) || (self.provider.kind == 'VCenter' ? "
                "(has(self.adoption.folders) && !has(self.adoption.hostGroups)) : "
                "(has(self.adoption.hostGroups) && !has(self.adoption.folders)))",
                "spec.adoption: a VCenter zone takes folders, an SCVMM zone hostGroups (and not the other)",
                field_path=".adoption",
            ),
        )
    )


class ZoneCapacity(HerderModel):
    """Compute of the zone's hosts that can run VMs (connected, not in maintenance), and its current use."""

    hosts: int | None = Field(default=None, ge=0, description="Number of hosts that can run VMs.")
    cpus: int | None = Field(default=None, ge=0, description="Logical CPUs of those hosts.")
    cpu_mhz: int | None = Field(default=None, ge=0, alias="cpuMHz",
                                description="Total CPU in MHz (vCenter; SCVMM does not report it).")
    cpu_used_mhz: int | None = Field(default=None, ge=0, alias="cpuUsedMHz", description="CPU in use, in MHz.")
    memory: Quantity | None = Field(default=None, description="Total memory.")
    memory_used: Quantity | None = Field(default=None, description="Memory in use, by any VM on the hosts.")
    memory_free: Quantity | None = Field(default=None, description="Total memory minus memory in use.")


class AvailabilityZoneStatus(Status):
    """Observed state of the zone."""

    capacity: ZoneCapacity | None = Field(default=None, description="Capacity last observed.")
    managed_object_id: str | None = Field(
        default=None,
        max_length=128,
        alias="managedObjectID",
        description="Moref of the vCenter cluster or host, or the SCVMM host group ID.",
    )


class AvailabilityZone(Resource):
    """An availability zone: where ECSs, images and resource pools are placed."""

    kind: str = "AvailabilityZone"
    spec: AvailabilityZoneSpec = Field(description="Region, provider and placement.")
    status: AvailabilityZoneStatus = Field(
        default_factory=AvailabilityZoneStatus, description="Observed state."
    )


KIND = KindInfo(
    model=AvailabilityZone,
    kind="AvailabilityZone",
    plural="availabilityzones",
    singular="availabilityzone",
    scope=Scope.CLUSTER,
    short_names=("az",),
    printer_columns=(
        {"name": "Region", "type": "string", "jsonPath": ".spec.region"},
        {"name": "Provider", "type": "string", "jsonPath": ".spec.provider.kind"},
        {"name": "Provider Name", "type": "string", "jsonPath": ".spec.provider.name"},
        {"name": "Hosts", "type": "integer", "jsonPath": ".status.capacity.hosts"},
        {"name": "Free Memory", "type": "string", "jsonPath": ".status.capacity.memoryFree"},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
