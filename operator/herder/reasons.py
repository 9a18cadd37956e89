"""Every condition reason herder writes, in one table: what each one means for the object's progress.

Control flow asks a reason's properties (`final`, `transient`, `progress`, ...), never its spelling.
"""

from __future__ import annotations

import enum


class Health(enum.Enum):
    """What a reason says about progress toward the spec (kstatus: Current, InProgress, Failed)."""

    OK = "OK"  # this aspect is as the spec asks
    PROGRESS = "Progress"  # herder is working on it (a task, an import, a move)
    WAITING = "Waiting"  # waiting for something that heals on its own, or a retry that herder makes itself
    STALLED = "Stalled"  # no progress without a person changing something (the spec, a reference, the backend)


class Reason(enum.StrEnum):
    # -- as wanted ------------------------------------------------------------------------------------------
    READY = "Ready"
    ACTIVE = "Active"
    AVAILABLE = "Available"
    CONNECTED = "Connected"
    PROVISIONED = "Provisioned"
    CONFIG_SYNCED = "ConfigSynced"
    POWER_SYNCED = "PowerSynced"
    PLACED = "Placed"
    DELETED = "Deleted"
    ORPHANED = "Orphaned"
    HOLDS_SERVERS = "HoldsServers"
    RESTORED = "Restored"
    SUSPENDED = "Suspended"
    # -- working on it ----------------------------------------------------------------------------------------
    CONNECTING = "Connecting"
    CREATING = "Creating"
    TASK_RUNNING = "TaskRunning"
    RECONFIGURING = "Reconfiguring"
    POWER_PENDING = "PowerPending"
    MIGRATING = "Migrating"
    RECREATING = "Recreating"
    CAPTURING = "Capturing"
    IMPORTING = "Importing"
    STOPPING_SERVER = "StoppingServer"
    STOPPED_FOR_CAPTURE = "StoppedForCapture"
    SCALING = "Scaling"
    UPDATING = "Updating"
    TAKING_SNAPSHOT = "TakingSnapshot"
    RESTORING = "Restoring"
    # -- waiting: heals on its own or is retried by herder ----------------------------------------------------
    PAUSED = "Paused"
    PROVIDER_NOT_READY = "ProviderNotReady"
    UNREACHABLE = "Unreachable"
    BACKEND_BUSY = "BackendBusy"
    BACKEND_ERROR = "BackendError"
    KUBERNETES_ERROR = "KubernetesError"
    SERVER_BUSY = "ServerBusy"
    SERVER_NOT_READY = "ServerNotReady"
    IMAGE_NOT_READY = "ImageNotReady"
    PARENT_NOT_READY = "ParentNotReady"
    RESOURCE_POOL_NOT_READY = "ResourcePoolNotReady"
    IN_USE = "InUse"
    ADDRESS_UNAVAILABLE = "AddressUnavailable"
    CREATE_FAILED = "CreateFailed"
    POWER_FAILED = "PowerFailed"
    RECONFIGURE_FAILED = "ReconfigureFailed"
    MIGRATION_FAILED = "MigrationFailed"
    CAPTURE_FAILED = "CaptureFailed"
    DOWNLOAD_FAILED = "DownloadFailed"
    UPLOAD_FAILED = "UploadFailed"
    IMPORT_CANCELLED = "ImportCancelled"
    SCALE_FAILED = "ScaleFailed"
    NOT_FOUND = "NotFound"
    WAITING_FOR_SERVER = "WaitingForServer"
    SNAPSHOT_NOT_READY = "SnapshotNotReady"
    SNAPSHOT_FAILED = "SnapshotFailed"
    # -- stalled: a person must change something ---------------------------------------------------------------
    NOT_SUPPORTED = "NotSupported"
    AUTHENTICATION_FAILED = "AuthenticationFailed"
    TLS_VERIFICATION_FAILED = "TLSVerificationFailed"
    PERMISSION_DENIED = "PermissionDenied"
    CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable"
    IDENTITY_CONFLICT = "IdentityConflict"
    INSUFFICIENT_RESOURCES = "InsufficientResources"
    CHECKSUM_MISMATCH = "ChecksumMismatch"
    INVALID_IMAGE = "InvalidImage"
    TEMPLATE_NOT_FOUND = "TemplateNotFound"
    ZONE_NOT_FOUND = "ZoneNotFound"
    ZONE_INVALID = "ZoneInvalid"
    ZONE_NOT_ALLOWED = "ZoneNotAllowed"
    ZONE_NOT_IN_REGION = "ZoneNotInRegion"
    NETWORK_NOT_ALLOWED = "NetworkNotAllowed"
    NO_ZONE_AVAILABLE = "NoZoneAvailable"
    IMAGE_NOT_FOUND = "ImageNotFound"
    IMAGE_NOT_ALLOWED = "ImageNotAllowed"
    IMAGE_NOT_IN_ZONE = "ImageNotInZone"
    RESOURCE_POOL_NOT_FOUND = "ResourcePoolNotFound"
    RESOURCE_POOL_INVALID = "ResourcePoolInvalid"
    RESOURCE_POOL_NOT_ALLOWED = "ResourcePoolNotAllowed"
    PLACEMENT_NOT_IN_ZONE = "PlacementNotInZone"
    PARENT_NOT_FOUND = "ParentNotFound"
    PARENT_INVALID = "ParentInvalid"
    LIMIT_EXCEEDS_PARENT = "LimitExceedsParent"
    SERVER_NOT_FOUND = "ServerNotFound"
    USER_DATA_UNAVAILABLE = "UserDataUnavailable"
    ADOPT_TARGET_NOT_FOUND = "AdoptTargetNotFound"
    ADOPTION_REFUSED = "AdoptionRefused"
    QUOTA_EXCEEDED = "QuotaExceeded"
    VM_MISSING = "VMMissing"
    RECREATE_REQUIRED = "RecreateRequired"
    SHRINK_NOT_SUPPORTED = "ShrinkNotSupported"
    POWER_CYCLE_REQUIRED = "PowerCycleRequired"
    SERVER_GONE = "ServerGone"
    LOST = "Lost"
    FAILED = "Failed"
    SNAPSHOT_NOT_FOUND = "SnapshotNotFound"
    INVALID_SCHEDULE = "InvalidSchedule"

    @classmethod
    def parse(cls, text: object) -> Reason | None:
        """The reason a stored condition carries; None for one herder does not write (or none)."""
        try:
            return cls(str(text))
        except ValueError:
            return None

    @property
    def health(self) -> Health:
        return _HEALTH.get(self, Health.STALLED)

    @property
    def routine(self) -> bool:
        """Routine work in flight (a create, a reconfigure, a power change): not news worth an Event."""
        return self in _ROUTINE

    @property
    def final(self) -> bool:
        """Only a spec change can heal it (the source of an image is immutable): not retried on a timer."""
        return self in _FINAL

    @property
    def transient(self) -> bool:
        """The backend or Kubernetes is briefly unavailable or busy: a step in flight keeps its claims."""
        return self in _TRANSIENT

    @property
    def awaits_dependency(self) -> bool:
        """Another herder object is missing or not ready; its own change wakes the waiter, not a timer."""
        return self in _AWAITS_DEPENDENCY


_OK = {Reason.READY, Reason.ACTIVE, Reason.AVAILABLE, Reason.CONNECTED, Reason.PROVISIONED, Reason.CONFIG_SYNCED,
       Reason.POWER_SYNCED, Reason.PLACED, Reason.DELETED, Reason.ORPHANED, Reason.HOLDS_SERVERS, Reason.RESTORED,
       Reason.SUSPENDED}
_PROGRESS = {Reason.CONNECTING, Reason.CREATING, Reason.TASK_RUNNING, Reason.RECONFIGURING, Reason.POWER_PENDING,
             Reason.MIGRATING, Reason.RECREATING, Reason.CAPTURING, Reason.IMPORTING, Reason.STOPPING_SERVER,
             Reason.STOPPED_FOR_CAPTURE, Reason.SCALING, Reason.UPDATING, Reason.TAKING_SNAPSHOT, Reason.RESTORING}
_WAITING = {Reason.PROVIDER_NOT_READY, Reason.UNREACHABLE, Reason.BACKEND_BUSY,
            Reason.BACKEND_ERROR, Reason.KUBERNETES_ERROR, Reason.SERVER_BUSY, Reason.SERVER_NOT_READY,
            Reason.IMAGE_NOT_READY, Reason.PARENT_NOT_READY, Reason.RESOURCE_POOL_NOT_READY, Reason.IN_USE,
            Reason.ADDRESS_UNAVAILABLE,
            Reason.CREATE_FAILED, Reason.POWER_FAILED, Reason.RECONFIGURE_FAILED, Reason.MIGRATION_FAILED,
            Reason.CAPTURE_FAILED, Reason.DOWNLOAD_FAILED, Reason.UPLOAD_FAILED, Reason.IMPORT_CANCELLED,
            Reason.SCALE_FAILED, Reason.NOT_FOUND, Reason.INSUFFICIENT_RESOURCES, Reason.WAITING_FOR_SERVER,
            Reason.SNAPSHOT_NOT_READY, Reason.SNAPSHOT_FAILED}
_HEALTH = {**dict.fromkeys(_OK, Health.OK), **dict.fromkeys(_PROGRESS, Health.PROGRESS),
           **dict.fromkeys(_WAITING, Health.WAITING)}
_ROUTINE = frozenset({Reason.CREATING, Reason.TASK_RUNNING, Reason.RECONFIGURING, Reason.POWER_PENDING,
                      Reason.CONNECTING, Reason.MIGRATING, Reason.TAKING_SNAPSHOT})
_FINAL = frozenset({Reason.CHECKSUM_MISMATCH, Reason.INVALID_IMAGE, Reason.NOT_SUPPORTED, Reason.SERVER_GONE,
                    Reason.LOST, Reason.FAILED, Reason.INVALID_SCHEDULE})
_TRANSIENT = frozenset({Reason.PROVIDER_NOT_READY, Reason.UNREACHABLE, Reason.BACKEND_BUSY, Reason.SERVER_BUSY,
                        Reason.KUBERNETES_ERROR})
_AWAITS_DEPENDENCY = frozenset({Reason.ZONE_NOT_FOUND, Reason.PARENT_NOT_FOUND, Reason.PARENT_NOT_READY,
                                Reason.WAITING_FOR_SERVER, Reason.SNAPSHOT_NOT_READY, Reason.SNAPSHOT_NOT_FOUND})
