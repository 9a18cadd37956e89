"""Decisions about adopting an existing VM (ElasticCloudServer spec.adoptFrom). Pure: no I/O, no clock.

Adoption hands a VM to a tenant, who may then resize or delete it, so it is closed by default: only a zone
whose `spec.adoption` selects the namespace opens it, and only for a VM that no other herder object claims,
that runs inside the zone's placement, and that sits in one of the folders (vCenter) or host groups (SCVMM)
the zone names. The messages never name another tenant's objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from herder.api.zone import AvailabilityZone
from herder.providers.types import ObservedVM, VMLocation
from herder.reconcile.selectors import selector_matches


def closed(zone: AvailabilityZone, namespace: str, namespace_labels: Mapping[str, str]) -> str | None:
    """Why the zone does not let `namespace` adopt at all; None when it does."""
    name = zone.metadata.name
    policy = zone.spec.adoption
    if policy is None:
        return f"AvailabilityZone {name} is not open to adoption (an administrator sets its spec.adoption)"
    if not selector_matches(policy.allowed_namespaces, namespace_labels):
        return (f"AvailabilityZone {name} does not open adoption to namespace {namespace} "
                "(spec.adoption.allowedNamespaces)")
    return None


def refused(zone: AvailabilityZone, vm: ObservedVM, where: VMLocation, own_uid: str,
            claimants: frozenset[str]) -> str | None:
    """Why ECS `own_uid` may not adopt `vm`; None when it may. `claimants`: the herder objects whose UID the
    VM carries as its identity (a VM herder created) or that recorded it as theirs."""
    target = f"VM {vm.unique_id}"
    marks = claimants | ({vm.owner_uid} if vm.owner_uid else set())
    if marks - {own_uid}:
        return f"{target} belongs to another herder object (it carries its owner mark); it is left untouched"
    name = zone.metadata.name
    outside = _outside_zone(zone, where)
    if outside:
        return f"{target} is not in AvailabilityZone {name}: {outside}"
    policy = zone.spec.adoption
    if policy is None:
        return f"AvailabilityZone {name} is not open to adoption"
    if zone.spec.vcenter is not None:
        opened = [_folder(path, where.vm_root or "") for path in policy.folders or ()]
        if where.folder is None or not any(_within(where.folder, allowed, "/") for allowed in opened):
            return (f"{target} is in folder {where.folder or '(none)'}, outside the folders zone {name} opens to "
                    f"adoption ({', '.join(opened)})")
        return None
    groups = list(policy.host_groups or ())
    if where.host_group is None or not any(_within(where.host_group, group, "\\") for group in groups):
        return (f"{target} is in host group {where.host_group or '(none)'}, outside the host groups zone {name} "
                f"opens to adoption ({', '.join(groups)})")
    return None


def _outside_zone(zone: AvailabilityZone, where: VMLocation) -> str | None:
    """Why the VM is not in the zone's placement (its cluster or host; its host group or cloud)."""
    vcenter, scvmm = zone.spec.vcenter, zone.spec.scvmm
    if vcenter is not None:
        if vcenter.cluster and _leaf(vcenter.cluster) != where.compute:
            return f"it runs on {where.compute or 'no cluster'}, not on cluster {_leaf(vcenter.cluster)}"
        if vcenter.host and _leaf(vcenter.host) != where.host:
            return f"it runs on {where.host or 'no host'}, not on host {_leaf(vcenter.host)}"
        return None
    if scvmm is None:
        return "the zone has no placement"
    if scvmm.host_group:
        if where.host_group is None or not _within(where.host_group, scvmm.host_group, "\\"):
            return f"it is in host group {where.host_group or '(none)'}, not under {scvmm.host_group}"
    elif scvmm.cloud and (where.cloud or "").casefold() != scvmm.cloud.casefold():
        return f"it is in cloud {where.cloud or '(none)'}, not in {scvmm.cloud}"
    return None


def _leaf(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _folder(path: str, vm_root: str) -> str:
    """A folder of spec.adoption.folders as an absolute path: relative ones start at the datacenter's VM
    folder, with or without its own name (`vm/tenant-a` and `tenant-a` are the same)."""
    if path.startswith("/"):
        return path.rstrip("/")
    relative = path.strip("/")
    if relative == "vm" or relative.startswith("vm/"):
        relative = relative[2:].strip("/")
    return f"{vm_root.rstrip('/')}/{relative}".rstrip("/")


def _within(path: str, ancestor: str, separator: str) -> bool:
    """`path` is `ancestor` or below it. SCVMM paths compare without case, as Windows does."""
    fold = separator == "\\"
    path, ancestor = path.rstrip(separator), ancestor.rstrip(separator)
    if fold:
        path, ancestor = path.casefold(), ancestor.casefold()
    return path == ancestor or path.startswith(ancestor + separator)
