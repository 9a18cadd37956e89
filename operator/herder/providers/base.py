"""The one backend interface. Controllers and decisions see only this; pyvmomi and pywinrm stay below it.

Split by concern, after vm-operator's providers: the endpoint session, servers (VMs), and the inventory
watch that feeds drift detection without per-VM polling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from herder.providers.types import (
    EndpointInfo,
    ObservedServer,
    PowerState,
    ServerChange,
    ServerSpec,
    TaskRef,
    TaskResult,
)


class ProviderError(Exception):
    """A backend failure, with a condition reason users can act on.

    `retryable` is False where retrying cannot help until something changes (bad credentials, a missing
    template); the controller still retries, but with the longest backoff.
    """

    reason = "BackendError"
    retryable = True

    def __init__(self, message: str, *, reason: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        if retryable is not None:
            self.retryable = retryable


class AuthenticationFailed(ProviderError):
    reason = "AuthenticationFailed"
    retryable = False


class TLSVerificationFailed(ProviderError):
    reason = "TLSVerificationFailed"
    retryable = False


class Unreachable(ProviderError):
    reason = "Unreachable"


class NotFound(ProviderError):
    reason = "NotFound"
    retryable = False


class Conflict(ProviderError):
    """More than one VM claims the same identity: never guess which one is ours."""

    reason = "IdentityConflict"
    retryable = False


class Endpoint(Protocol):
    """One shared, self-healing session per VCenter or SCVMM."""

    def info(self) -> EndpointInfo:
        """Log in if needed and describe the endpoint. Raises ProviderError subclasses."""
        ...

    def close(self) -> None: ...


class Servers(Protocol):
    """VM lifecycle. Every call is safe to repeat after a crash."""

    def find(self, uid: str, known_ref: str | None = None) -> ObservedServer | None:
        """The VM that belongs to ECS `uid`: by recorded ref, else by identity. None if there is none.

        Raises Conflict when more than one VM matches.
        """
        ...

    def find_by_unique_id(self, unique_id: str) -> ObservedServer | None:
        """A VM by its instance UUID (vCenter) or VM ID (SCVMM), for adoption."""
        ...

    def create(self, spec: ServerSpec) -> TaskRef:
        """Start creating the VM, stamped with `spec.uid`. Returns the task to follow."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...

    def reconfigure(self, server: ObservedServer, change: ServerChange) -> TaskRef: ...

    def set_power(self, server: ObservedServer, power: PowerState) -> TaskRef: ...

    def destroy(self, server: ObservedServer) -> TaskRef:
        """Power off (hard) if needed, then delete the VM and its disks."""
        ...

    def adopt(self, server: ObservedServer, uid: str) -> None:
        """Mark an existing VM as belonging to ECS `uid`."""
        ...

    def release(self, server: ObservedServer) -> None:
        """Remove herder's marks from a VM that is being orphaned."""
        ...


class Inventory(Protocol):
    """A cache of the VMs herder manages, kept current by the backend's change feed."""

    def snapshot(self) -> Mapping[str, ObservedServer]:
        """The current view, keyed by unique ID."""
        ...

    def subscribe(self, callback: Callable[[ObservedServer | None, str], None]) -> None:
        """Call `callback(server_or_None_if_gone, unique_id)` from the watch thread on every change."""
        ...

    def refresh(self, ref: str) -> ObservedServer | None:
        """Re-read one VM (by ref) into the cache and return it; None if it is gone."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Provider(Protocol):
    """One backend endpoint: its session, its VMs and its inventory watch. Read-only members."""

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def servers(self) -> Servers: ...

    @property
    def inventory(self) -> Inventory: ...

    def close(self) -> None: ...
