"""The one backend interface. Controllers and decisions see only this; pyvmomi and pywinrm stay below it.

Split by concern, after vm-operator's providers: the endpoint session, VMs, the inventory watch that feeds
drift detection without per-VM polling, snapshots, images (templates), resource pools and zones. `Provider` names every
capability for both backends; what a backend cannot do raises `herder.errors.NotSupported` with a message
that says so, and is never discovered by probing for attributes.

Each concern's reads are a Protocol of their own (`VMReads`, `InventoryReads`, `SnapshotReads`, `ImageReads`,
`PoolReads`, `Zones`), and `ProviderReads` holds only those: the view the sync paths gather their inputs
through, and all that `herder plan` is given (`herder.providers.readonly`), so a plan cannot even express a
change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from herder.api.ecs import PowerState
from herder.providers.types import (
    AddressPool,
    EndpointInfo,
    NICSpec,
    ObservedPool,
    ObservedSnapshot,
    ObservedVM,
    Placement,
    PoolSpec,
    Relocation,
    SnapshotSpec,
    TaskRef,
    TaskResult,
    TemplateInfo,
    VMChange,
    VMLocation,
    VMSpec,
    ZoneCapacity,
    ZoneMembers,
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


class VMReads(Protocol):
    """Reading VMs and their tasks; changes nothing."""

    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        """The VM that belongs to ECS `uid`: by recorded ref, else by identity. None if there is none.

        Raises Conflict when more than one VM matches.
        """
        ...

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        """A VM by its instance UUID (vCenter) or VM ID (SCVMM), for adoption."""
        ...

    def locate(self, vm: ObservedVM) -> VMLocation:
        """Where the VM sits (folder and cluster; host group and cloud), read now, for the adoption checks.
        Raises NotFound if it is gone."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...

    def address_pools(self, nics: tuple[NICSpec, ...]) -> tuple[AddressPool | None, ...]:
        """For each NIC, the static IP pool a static one takes its address from; None for a DHCP NIC, and where
        the backend has no pools (vCenter)."""
        ...


class VMs(VMReads, Protocol):
    """VM lifecycle. Every call is safe to repeat after a crash."""

    def create(self, spec: VMSpec) -> TaskRef:
        """Start creating the VM, stamped with `spec.uid`. Returns the task to follow."""
        ...

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


class SnapshotReads(Protocol):
    """Finding snapshots (vCenter) and checkpoints (SCVMM) of a VM, and following their tasks; changes nothing."""

    def find(self, vm: ObservedVM, uid: str) -> ObservedSnapshot | None:
        """The snapshot of `vm` that carries ServerSnapshot `uid`; None if there is none (or the VM is gone).

        Raises Conflict when more than one carries it."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...


class Snapshots(SnapshotReads, Protocol):
    """Snapshots and checkpoints of a VM. Every call is safe to repeat after a crash: a snapshot carries its
    ServerSnapshot's UID (`SnapshotSpec.uid`) in its name and description and is found by it, so a snapshot
    taken before a crash is found instead of taken twice."""

    def create(self, vm: ObservedVM, spec: SnapshotSpec) -> TaskRef:
        """Start taking the snapshot. `done:<id>` when it exists already; while a snapshot is being taken of
        the VM (one started before a crash), that task, to be followed before looking again. Raises
        NotSupported for what the backend cannot take (SCVMM: memory)."""
        ...

    def revert(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        """Start reverting the VM to snapshot `unique_id` (its disks, CPU, memory and the power state the
        snapshot brings back). Raises NotFound when the snapshot is gone."""
        ...

    def remove(self, vm: ObservedVM, unique_id: str) -> TaskRef:
        """Start removing snapshot `unique_id` (its children stay); `done:` when it is already gone."""
        ...


class PoolReads(Protocol):
    def observe(self, ref: str) -> ObservedPool | None:
        """The pool by its ref, with runtime usage; None if it is gone."""
        ...


class Pools(PoolReads, Protocol):
    """Resource pools (CPU MHz / memory reservations, limits and shares). Every call is safe to repeat."""

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        """Create the pool under its parent, or bring an existing one's settings to `spec` (live: VMs in
        it are not touched). Returns it as it now is."""
        ...

    def delete(self, ref: str) -> None:
        """Remove the pool. Raises InUse while it holds VMs or child pools; a gone pool is fine."""
        ...


class InventoryReads(Protocol):
    def snapshot(self) -> Mapping[str, ObservedVM]:
        """The current view, keyed by unique ID (a copy: for tests and metrics, not for every pass)."""
        ...

    def lookup(self, uid: str, recorded: str | None = None) -> ObservedVM | None:
        """The cached VM of ECS `uid`: by the unique ID it recorded, by identity, else by its owner mark when
        exactly one VM carries it; in constant time."""
        ...

    def refresh(self, ref: str) -> ObservedVM | None:
        """Re-read one VM (by ref) into the cache and return it; None if it is gone."""
        ...


class Inventory(InventoryReads, Protocol):
    """A cache of the VMs herder manages, kept current by the backend's change feed."""

    def subscribe(self, callback: Callable[[ObservedVM | None, str], None]) -> None:
        """Call `callback(vm_or_None_if_gone, unique_id)` from the watch thread on every change."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class ImageReads(Protocol):
    def find_template(self, ref: str) -> TemplateInfo | None:
        """A template by inventory or library path, ID (vCenter: instance UUID), the identity herder gave it, or
        bare name; None if absent. Raises ProviderError when a bare name is ambiguous.
        """
        ...

    def find_disk(self, ref: str) -> TemplateInfo | None:
        """A library disk (VHD/VHDX) by name or library path, which `adopt_template` gives a template of its own
        (SCVMM; `is_template` False); None if absent and where images are templates only (vCenter). Raises
        ProviderError when a name is ambiguous."""
        ...

    def task(self, task: TaskRef) -> TaskResult: ...


class Images(ImageReads, Protocol):
    """VM templates: find, adopt, capture from a VM, import from a file, delete. Every call is safe to repeat.

    Templates herder makes carry the Image's UID as their identity (vCenter: the instance UUID; SCVMM: a mark in
    the template's Description), so a capture or import that ran before a crash is found instead of repeated.
    """

    def adopt_template(self, ref: str, name: str, uid: str, os_family: str) -> TemplateInfo | None:
        """source.existing: what `ref` names, ready to clone; None if nothing has that name. A template is taken as
        it is. Where VMs are made only from templates (SCVMM), a library disk (VHD/VHDX, by name or library path)
        is given a template of its own, named `name` with identity `uid` and the OS family's guest OS; it is made
        once and found again by `uid`.
        """
        ...

    def release_template(self, uid: str) -> None:
        """deletionPolicy Orphan: the template and disks stay; what herder made only to use them (SCVMM: the
        template of an adopted library disk, a capture's leftover clone) goes. Safe when nothing is left."""
        ...

    def capture(self, vm: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        """Start turning the VM `vm` into a template named `name` with identity `uid`, in the placement's folder
        and datastore (vCenter) or library share (SCVMM). The source stays intact and managed. A capture may take
        more than one task (SCVMM: clone the stopped VM, then make the template of the clone): call again after
        each task until find_template(uid) finds the template. Raises NotSupported for a running VM where the
        backend clones only stopped ones (SCVMM)."""
        ...

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        """Stream an OVA (`packaged`: one tar, `checksum` over all of it) or an OVF (a descriptor with its
        files beside it, `checksum` over the descriptor, files checked against its `.mf` manifest when one is
        published) from `url` into a new template. `checksum` is `sha256:<hex>`. vCenter only.

        Blocks until done. `progress(percent)` is called now and then; returning False cancels the import.
        On any failure nothing is left behind (the lease is aborted, the partial VM destroyed). Raises
        ImportFailed (the file or URL is at fault) or ProviderError.
        """
        ...

    def import_disk(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, os_family: str,
                    progress: Callable[[int], bool]) -> TemplateInfo:
        """Fetch a VHD or VHDX (or a .zip holding one) from `url` into the placement's library share, on the library
        side; check its SHA-256 (`checksum`, `sha256:<hex>`, over the file as published) before anything uses it;
        then make a template named `name` with identity `uid` and the OS family's guest OS. SCVMM only.

        Blocks until done; `progress(percent)` as for import_ovf (a cancelled import ends once its download has).
        On any failure nothing is left in the library. Raises ImportFailed or ProviderError.
        """
        ...

    def destroy_template(self, unique_id: str) -> TaskRef:
        """Delete the template with this ID (or identity) and the disks it alone uses; `done:` if it is gone."""
        ...


class Zones(Protocol):
    """What an AvailabilityZone's placement stands for on the backend."""

    def capacity(self, placement: Placement) -> ZoneCapacity | None:
        """Check that the placement's objects exist (raises NotFound naming the missing one) and measure
        its hosts. None: the placement is valid but has no hosts of its own to measure (an SCVMM cloud)."""
        ...

    def members(self, placement: Placement) -> ZoneMembers:
        """The hosts and storage of the placement, read now: what a server's pins are checked against before it
        is created or moved (`reconcile.zone.pins_outside`)."""
        ...


class ProviderReads(Protocol):
    """What can be read of one backend endpoint, and nothing else. Every `Provider` is one."""

    @property
    def vms(self) -> VMReads: ...

    @property
    def inventory(self) -> InventoryReads: ...

    @property
    def snapshots(self) -> SnapshotReads: ...

    @property
    def images(self) -> ImageReads: ...

    @property
    def pools(self) -> PoolReads: ...

    @property
    def zones(self) -> Zones: ...


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
    def snapshots(self) -> Snapshots: ...

    @property
    def zones(self) -> Zones: ...

    def close(self) -> None: ...
