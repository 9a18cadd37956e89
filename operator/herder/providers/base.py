"""The one backend interface. Controllers and decisions see only this; pyvmomi and pywinrm stay below it.

Split by concern, after vm-operator's providers: the endpoint session, VMs, the inventory watch that feeds
drift detection without per-VM polling, images (templates), resource pools and zones. `Provider` names every
capability for both backends; what a backend cannot do raises `herder.errors.NotSupported` with a message
that says so, and is never discovered by probing for attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from herder.api.ecs import PowerState
from herder.providers.types import (
    EndpointInfo,
    ObservedPool,
    ObservedVM,
    Placement,
    PoolSpec,
    Relocation,
    TaskRef,
    TaskResult,
    TemplateInfo,
    VMChange,
    VMSpec,
    ZoneCapacity,
)


class Endpoint(Protocol):
    """One shared, self-healing session per VCenter or SCVMM."""

    def info(self) -> EndpointInfo:
        """Log in if needed and describe the endpoint. Raises ProviderError subclasses."""
        ...

    def unanswered(self) -> float | None:
        """Seconds the backend has not answered anything (hung, or its port closed), once that is longer than
        a healthy backend stays silent (its change feed answers at least once per wait); None while it answers.
        Asks nothing of the backend."""
        ...

    def close(self) -> None: ...


class VMs(Protocol):
    """VM lifecycle. Every call is safe to repeat after a crash."""

    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        """The VM that belongs to ECS `uid`: by recorded ref, else by identity. None if there is none.

        Raises Conflict when more than one VM matches.
        """
        ...

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        """A VM by its instance UUID (vCenter) or VM ID (SCVMM), for adoption."""
        ...

    def create(self, spec: VMSpec) -> TaskRef:
        """Start creating the VM, stamped with `spec.uid`. Returns the task to follow."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...

    def reconfigure(self, vm: ObservedVM, change: VMChange) -> TaskRef: ...

    def set_power(self, vm: ObservedVM, power: PowerState, *, graceful: bool = False) -> TaskRef:
        """Start the transition. `graceful` turns a running VM off through its guest OS (operation
        "guest-shutdown"; needs VMware Tools or Hyper-V integration services); otherwise the power is pulled."""
        ...

    def destroy(self, vm: ObservedVM) -> TaskRef:
        """Power off (hard) if needed, then delete the VM and its disks."""
        ...

    def adopt(self, vm: ObservedVM, uid: str) -> None:
        """Mark an existing VM as belonging to ECS `uid`."""
        ...

    def release(self, vm: ObservedVM) -> None:
        """Remove herder's marks from a VM that is being orphaned."""
        ...

    def relocate(self, vm: ObservedVM, to: Relocation, zone: Placement) -> TaskRef:
        """Move a VM live: to another host and/or storage (vCenter: vMotion / Storage vMotion; SCVMM: live and
        storage migration), and/or into `zone`'s pool (its resource pool, or the cluster's root pool; its
        cloud). `zone` is the server's zone placement: a host or storage outside it raises OutsideZone before
        anything moves. A move the backend refuses when asked raises Refused."""
        ...


class Pools(Protocol):
    """Resource pools (CPU MHz / memory reservations, limits and shares). Every call is safe to repeat."""

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        """Create the pool under its parent, or bring an existing one's settings to `spec` (live: VMs in
        it are not touched). Returns it as it now is."""
        ...

    def observe(self, ref: str) -> ObservedPool | None:
        """The pool by its ref, with runtime usage; None if it is gone."""
        ...

    def delete(self, ref: str) -> None:
        """Remove the pool. Raises InUse while it holds VMs or child pools; a gone pool is fine."""
        ...


class Inventory(Protocol):
    """A cache of the VMs herder manages, kept current by the backend's change feed."""

    def snapshot(self) -> Mapping[str, ObservedVM]:
        """The current view, keyed by unique ID."""
        ...

    def subscribe(self, callback: Callable[[ObservedVM | None, str], None]) -> None:
        """Call `callback(vm_or_None_if_gone, unique_id)` from the watch thread on every change."""
        ...

    def refresh(self, ref: str) -> ObservedVM | None:
        """Re-read one VM (by ref) into the cache and return it; None if it is gone."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Images(Protocol):
    """VM templates: find, capture from a VM, import from a file, delete. Every call is safe to repeat.

    Templates herder makes carry the Image's UID as their identity (vCenter: the instance UUID), so a
    capture or import that ran before a crash is found instead of repeated.
    """

    def find_template(self, ref: str) -> TemplateInfo | None:
        """A template (or VM usable as one) by inventory path, instance UUID or bare name; None if absent.

        Raises ProviderError when a bare name is ambiguous.
        """
        ...

    def capture(self, vm: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        """Start cloning the VM `vm` into a template named `name` with identity `uid`, in the
        placement's folder and datastore. The source keeps running and stays managed."""
        ...

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        """Stream an OVA (`packaged`: one tar, `checksum` over all of it) or an OVF (a descriptor with its
        files beside it, `checksum` over the descriptor, files checked against its `.mf` manifest when one is
        published) from `url` into a new template. `checksum` is `sha256:<hex>`.

        Blocks until done. `progress(percent)` is called now and then; returning False cancels the import.
        On any failure nothing is left behind (the lease is aborted, the partial VM destroyed). Raises
        ImportFailed (the file or URL is at fault) or ProviderError.
        """
        ...

    def destroy_template(self, unique_id: str) -> TaskRef:
        """Delete the template with this instance UUID; `done:` if it is already gone."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...


class Zones(Protocol):
    """What an AvailabilityZone's placement stands for on the backend."""

    def capacity(self, placement: Placement) -> ZoneCapacity | None:
        """Check that the placement's objects exist (raises NotFound naming the missing one) and measure
        its hosts. None: the placement is valid but has no hosts of its own to measure (an SCVMM cloud)."""
        ...


class Provider(Protocol):
    """One backend endpoint and everything herder does on it. Read-only members."""

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def vms(self) -> VMs: ...

    @property
    def inventory(self) -> Inventory: ...

    @property
    def images(self) -> Images: ...

    @property
    def pools(self) -> Pools: ...

    @property
    def zones(self) -> Zones: ...

    def close(self) -> None: ...
