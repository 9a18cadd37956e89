"""Decisions for one Image or ClusterImage: what its source asks for, what a failure means, what status an
available template reports. Pure: no I/O, no clock.

- `existing`: the template is looked up by path or name; `fromServer`: the ECS is cloned into a template
  named `img_<namespace>.<name>` (ClusterImage: `cimg_<name>`) whose identity is the image's UID; `url`: the
  file is imported (OVA or OVF on vCenter), its format told by `format` or the URL's ending.
- A failure only a spec change can heal (the source is immutable) stands until the generation changes;
  anything else is retried with backoff. A capture whose clone is still running keeps its task and its hold
  on the server through passing trouble; any other failure gives the server back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from herder.api import format_mib
from herder.api.clusterimage import ClusterImage
from herder.api.common import DeletionPolicy
from herder.api.image import CapturePowerPolicy, Image, ImageFormat, ImageSource
from herder.providers.download import without_userinfo
from herder.providers.types import TemplateInfo
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold
from herder.reconcile.conditions import READY, Condition

GIB = 1024**3
MIB = 1024**2
_LINUX_GUESTS = ("linux", "ubuntu", "debian", "centos", "rhel", "sles", "oracle", "fedora", "photon", "coreos",
                 "amazon", "rocky", "alma", "asianux", "mandr", "turbo", "suse", "opensuse")


class SourceStep(enum.Enum):
    STANDS = "Stands"  # a final failure for this generation: nothing to do until the spec changes
    HELD = "Held"  # a failure whose retry is not due yet
    FIND = "Find"  # source.existing
    CAPTURE = "Capture"  # source.fromServer
    IMPORT = "Import"  # source.url


def next_step(source: ImageSource, last_reason: Reason | None, failed_this_generation: bool,
              retry_due: bool) -> SourceStep:
    """What one pass does. `last_reason`: Ready's reason as stored; `failed_this_generation`: Ready is False
    for the current generation."""
    if failed_this_generation and last_reason is not None and last_reason.final:
        return SourceStep.STANDS
    if failed_this_generation and not retry_due:
        return SourceStep.HELD
    if source.existing is not None:
        return SourceStep.FIND
    return SourceStep.CAPTURE if source.from_server is not None else SourceStep.IMPORT


@dataclass(frozen=True)
class Failure:
    """What a failed pass writes and does next."""

    phase: str
    retry: bool  # on the backoff; False: only a spec change can heal it
    forget_task: bool  # the recorded task (a clone, an import lease) is over


def failure(reason: Reason, source: ImageSource, *, import_failed: bool) -> Failure:
    final = reason.final
    phase = "Failed" if final or import_failed else "Pending"
    # A capture's clone task is followed until it ends (CaptureFailed); an import's lease ends with the pass.
    return Failure(phase, not final, reason is Reason.CAPTURE_FAILED or source.from_server is None)


def gives_back(reason: Reason, cloning: bool) -> bool:
    """Whether a failed capture pass gives the server back. Only passing trouble (the backend or Kubernetes
    unreachable, the ECS busy) or any error while a clone still runs keeps the hold: the server stays off."""
    if reason is Reason.CAPTURE_FAILED:
        return True
    return not cloning and not reason.transient


def restop_wait(failures: int, first: float, longest: float) -> float:
    """How long a server a failed consistent capture gave back runs before the retry stops it again: `first`,
    doubling with each failure in a row, up to `longest`. A lasting failure never power-cycles a server fast."""
    return float(min(first * 2 ** min(max(failures - 1, 0), 16), longest))


def hold_for(kind: str, image: Image | ClusterImage) -> CaptureHold | None:
    """What a consistent capture asks of its ECS; None for powerPolicy Live (the VM keeps running)."""
    source = image.spec.source.from_server
    if source is None or source.power_policy is CapturePowerPolicy.LIVE:
        return None
    meta = image.metadata
    by = f"{kind}/{meta.namespace}/{meta.name}" if meta.namespace else f"{kind}/{meta.name}"
    return CaptureHold(by, meta.uid or "", graceful=source.power_policy is CapturePowerPolicy.GUEST_SHUTDOWN)


def template_name(kind: str, namespace: str | None, name: str) -> str:
    """Unique per image and never an ECS's VM name (`<namespace>.<name>`): `_` is not valid in a namespace."""
    return f"img_{namespace}.{name}" if kind == "Image" else f"cimg_{name}"


def deletion_policy(image: Image | ClusterImage) -> DeletionPolicy:
    """As set, else Orphan for an adopted (`existing`) template and Delete for one herder made."""
    return image.spec.deletion_policy or (DeletionPolicy.ORPHAN if image.spec.source.existing
                                          else DeletionPolicy.DELETE)


#: Disk images a library imports as they are (SCVMM); the others are OVF packages (vCenter).
DISK_FORMATS = frozenset({ImageFormat.VHD, ImageFormat.VHDX})
_ENDINGS = ((".vhdx", ImageFormat.VHDX), (".vhd", ImageFormat.VHD), (".ovf", ImageFormat.OVF))
#: What each backend (a provider kind) imports.
_IMPORTS = {"VCenter": frozenset({ImageFormat.OVA, ImageFormat.OVF}), "SCVMM": DISK_FORMATS}


def unimportable(fmt: ImageFormat, backend: str) -> str | None:
    """Why a provider of kind `backend` cannot import a file of format `fmt`; None when it can."""
    if fmt in _IMPORTS.get(backend, frozenset()):
        return None
    if fmt in DISK_FORMATS:
        return f"{fmt.value} images are for SCVMM; a VCenter imports OVA or OVF"
    return f"{fmt.value} images are for vCenter; an SCVMM imports VHD and VHDX disks (or a .zip of one)"


def import_words(fmt: ImageFormat, url: str, name: str, on: str) -> str:
    """What importing `url` does, in the words of herder plan and the image's status."""
    shown = without_userinfo(url)
    if fmt in DISK_FORMATS:
        return (f"fetch {shown} ({fmt.value}) into a library share of {on} on the library server, check its SHA-256 "
                f"there (Get-FileHash) before anything uses it, and make a new template {name} of it")
    return f"import {shown} ({fmt.value}) into a new template {name} on {on}"


def uncapturable(policy: CapturePowerPolicy, backend: str) -> str | None:
    """Why a provider of kind `backend` cannot capture with `policy`; None when it can."""
    if backend == "SCVMM" and policy is CapturePowerPolicy.LIVE:
        return ("spec.source.fromServer.powerPolicy: VMM clones only stopped VMs, so Live is for vCenter; use "
                "GuestShutdown or PowerOff on SCVMM")
    return None


def capture_words(backend: str, server: str, name: str, on: str) -> str:
    """How `server` becomes template `name`, in the words of herder plan."""
    if backend == "SCVMM":
        # New-SCVMTemplate -VM generalizes and consumes its VM: it is given a clone, never the server.
        return (f"clone the stopped ECS {server} on {on}, then make a new template {name} of the clone "
                "(New-SCVMTemplate consumes it; the server is kept)")
    return f"clone ECS {server} into a new template {name} on {on}"


def image_format(url: str, declared: ImageFormat | None) -> ImageFormat:
    """`format`, else what the URL's path ends in (a disk may be zipped: `.vhdx.zip`); OVA otherwise."""
    if declared is not None:
        return declared
    path = url.lower().split("?")[0].split("#")[0].removesuffix(".zip")
    return next((fmt for ending, fmt in _ENDINGS if path.endswith(ending)), ImageFormat.OVA)


def os_family(guest_id: str, declared: str) -> str:
    """Linux, Windows or Other from a vSphere/VMM guest ID; the declared family while the template has none."""
    guest = guest_id.lower()
    if not guest:
        return declared
    if guest.startswith("win") or "windows" in guest:
        return "Windows"
    return "Linux" if any(marker in guest for marker in _LINUX_GUESTS) else "Other"


def source_used(image: Image | ClusterImage) -> dict[str, Any]:
    source = image.spec.source
    if source.existing is not None:
        return {"type": "existing", "reference": source.existing.path or source.existing.name or ""}
    if source.from_server is not None:
        namespace = source.from_server.namespace or image.metadata.namespace or ""
        return {"type": "fromServer", "reference": f"{namespace}/{source.from_server.name}"}
    assert source.url is not None
    return {"type": "url", "reference": without_userinfo(source.url.url), "checksum": source.url.checksum}


def size_text(size_bytes: int) -> str:
    if size_bytes and size_bytes % GIB == 0:
        return f"{size_bytes // GIB}Gi"
    if size_bytes % MIB == 0:
        return format_mib(size_bytes // MIB)
    return str(size_bytes)


def available(info: TemplateInfo, provider: dict[str, str]) -> tuple[list[Condition], dict[str, Any]]:
    """The template exists: Ready, and what the backend reports of it."""
    fields = {"phase": "Available", "uniqueID": info.unique_id, "managedObjectID": info.ref, "provider": provider,
              "path": info.path, "size": size_text(info.size_bytes) if info.size_bytes else None, "cpu": info.cpu,
              "memory": format_mib(info.memory_mib), "guestID": info.guest_id or None, "pendingTask": None,
              "progress": None}
    what = "template" if info.is_template else "VM (not marked as a template)"
    return [Condition(READY, True, Reason.AVAILABLE, f"{what} {info.path} ({info.unique_id})")], fields
