"""herder.api: the v1alpha1 API (group herder.dev). pydantic models are the source of truth for the CRDs."""

from herder.api.clusterimage import ClusterImage, ClusterImageSpec
from herder.api.common import DeletionPolicy, ObjectRef, ProviderKind, ProviderRef, SecretKeyRef, SecretRef
from herder.api.ecs import (
    ElasticCloudServer,
    ElasticCloudServerSpec,
    ElasticCloudServerStatus,
    ImageKind,
    ImageRef,
    PowerCyclePolicy,
    PowerState,
)
from herder.api.ecsset import ElasticCloudServerSet, ElasticCloudServerSetSpec, ElasticCloudServerSetStatus
from herder.api.image import FREQUENTLY_USED_LABEL, Image, ImageSpec, ImageStatus, OSFamily
from herder.api.metadata import (
    API_VERSION,
    CATEGORY,
    GROUP,
    VERSION,
    Condition,
    ConditionStatus,
    KindInfo,
    PendingTask,
    Resource,
    Scope,
    Status,
)
from herder.api.quantities import Quantity, format_mib, parse_quantity, quantity_to_bytes, quantity_to_mib
from herder.api.quota import ServerQuota, ServerQuotaSpec, ServerQuotaStatus
from herder.api.registry import BY_KIND, KINDS, kind_info, parse
from herder.api.resourcepool import ResourcePool, ResourcePoolSpec, ResourcePoolStatus
from herder.api.restore import RestorePhase, ServerSnapshotRestore, ServerSnapshotRestoreSpec
from herder.api.schedule import ServerSnapshotSchedule, ServerSnapshotScheduleSpec
from herder.api.scvmm import SCVMM, SCVMMSpec, SCVMMStatus
from herder.api.selectors import LabelSelector
from herder.api.snapshot import ServerSnapshot, ServerSnapshotSpec, ServerSnapshotStatus
from herder.api.vcenter import VCenter, VCenterSpec, VCenterStatus
from herder.api.zone import AvailabilityZone, AvailabilityZoneSpec, AvailabilityZoneStatus

__all__ = [
    "API_VERSION",
    "BY_KIND",
    "CATEGORY",
    "FREQUENTLY_USED_LABEL",
    "GROUP",
    "KINDS",
    "SCVMM",
    "VERSION",
    "AvailabilityZone",
    "AvailabilityZoneSpec",
    "AvailabilityZoneStatus",
    "ClusterImage",
    "ClusterImageSpec",
    "Condition",
    "ConditionStatus",
    "DeletionPolicy",
    "ElasticCloudServer",
    "ElasticCloudServerSet",
    "ElasticCloudServerSetSpec",
    "ElasticCloudServerSetStatus",
    "ElasticCloudServerSpec",
    "ElasticCloudServerStatus",
    "Image",
    "ImageKind",
    "ImageRef",
    "ImageSpec",
    "ImageStatus",
    "KindInfo",
    "LabelSelector",
    "OSFamily",
    "ObjectRef",
    "PendingTask",
    "PowerCyclePolicy",
    "PowerState",
    "ProviderKind",
    "ProviderRef",
    "Quantity",
    "Resource",
    "ResourcePool",
    "ResourcePoolSpec",
    "ResourcePoolStatus",
    "RestorePhase",
    "SCVMMSpec",
    "SCVMMStatus",
    "Scope",
    "SecretKeyRef",
    "SecretRef",
    "ServerQuota",
    "ServerQuotaSpec",
    "ServerQuotaStatus",
    "ServerSnapshot",
    "ServerSnapshotRestore",
    "ServerSnapshotRestoreSpec",
    "ServerSnapshotSchedule",
    "ServerSnapshotScheduleSpec",
    "ServerSnapshotSpec",
    "ServerSnapshotStatus",
    "Status",
    "VCenter",
    "VCenterSpec",
    "VCenterStatus",
    "format_mib",
    "kind_info",
    "parse",
    "parse_quantity",
    "quantity_to_bytes",
    "quantity_to_mib",
]
