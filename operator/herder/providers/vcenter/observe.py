"""Turn the fixed set of VirtualMachine properties into an ObservedVM. Pure: no vCenter calls.

Both the one-off reads in servers.py and the inventory watch use the same property list, so a VM looks
the same whichever path saw it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pyVmomi import vim

from herder.api.ecs import PowerState
from herder.providers.types import ObservedDisk, ObservedNIC, ObservedVM

OWNER_FIELD = "herder.dev/ecs-uid"
# extraConfig key prefix naming herder's data disks by position: herder.disk.<bus>.<unit> = <name>.
DISK_NAME_PREFIX = "herder.disk."

PROPERTIES = (
    "name",
    "config.instanceUuid",
    "config.template",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.cpuHotAddEnabled",
    "config.memoryHotAddEnabled",
    "config.extraConfig",
    "runtime.powerState",
    "runtime.host",
    "resourcePool",
    "datastore",
    "guest.ipAddress",
    "guest.net",
    "guest.hostName",
    "guest.guestFullName",
    "config.guestFullName",
    "customValue",
    "snapshot",
)
# A VM's devices and the disk names herder keeps in its extraConfig: large, so the watch does not carry them.
DEVICE_PROPERTIES = ("config.hardware.device", "config.extraConfig")
# What the inventory watch carries: small, so that vCenter (and vcsim, which deep-copies every property for every
# VM whenever the view changes) stays cheap. `config.changeVersion` moves with every reconfiguration, devices
# included: the watch then reads that VM's DEVICE_PROPERTIES once, so disk drift is seen as fast as CPU drift.
WATCHED_PROPERTIES = (*(p for p in PROPERTIES if p not in DEVICE_PROPERTIES), "config.changeVersion")
# Where a VM's cached properties keep its disks and its ethernet cards, derived from DEVICE_PROPERTIES (the raw
# lists are not kept).
DISKS = "disks"
NIC_CARDS = "nicCards"

_Portgroup: Any = vim.dvs.DistributedVirtualPortgroup
POWER = {
    "poweredOn": PowerState.ON,
    "poweredOff": PowerState.OFF,
    "suspended": PowerState.SUSPENDED,
}


def disk_slot(controller_bus: int, unit: int) -> str:
    return f"{DISK_NAME_PREFIX}{controller_bus}.{unit}"


def disk_names(extra_config: Any) -> dict[str, str]:
    """herder's disk-name marks, {slot: name}. Nothing else from extraConfig is kept: user data is there."""
    return {
        str(opt.key): str(opt.value)
        for opt in extra_config or ()
        if str(opt.key).startswith(DISK_NAME_PREFIX) and opt.value
    }


def controller_buses(devices: Any) -> dict[int, int]:
    """{controller device key: bus number} for the VM's SCSI controllers."""
    return {d.key: d.busNumber for d in devices or () if isinstance(d, vim.vm.device.VirtualSCSIController)}


def observed_disks(devices: Any, names: Mapping[str, str]) -> tuple[ObservedDisk, ...]:
    """Disks in device-key order. The OS disk is the first disk herder did not name (the template's)."""
    buses = controller_buses(devices)
    disks: list[Any] = sorted(
        (d for d in devices or () if isinstance(d, vim.vm.device.VirtualDisk)), key=lambda d: d.key
    )
    result: list[ObservedDisk] = []
    os_disk_seen = False
    for disk in disks:
        bus = buses.get(disk.controllerKey)
        name = names.get(disk_slot(bus, disk.unitNumber)) if bus is not None else None
        is_os = name is None and not os_disk_seen
        os_disk_seen = os_disk_seen or is_os
        result.append(
            ObservedDisk(key=str(disk.key), size_bytes=int(disk.capacityInBytes or 0), name=name, is_os_disk=is_os)
        )
    return tuple(result)


def observed_nics(cards: Any, guest_net: Any, name_of: Callable[[Any], str | None]) -> tuple[ObservedNIC, ...]:
    """NICs (the ethernet cards of NIC_CARDS) in device-key order: the network each is backed by (a distributed port
    group by its name), its MAC address, and the addresses the guest reports on it."""
    reported = {int(n.deviceConfigId): n for n in guest_net or () if getattr(n, "deviceConfigId", None) is not None}
    nics: list[ObservedNIC] = []
    for card in sorted(cards or (), key=lambda d: d.key):
        backing = card.backing
        if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
            network = name_of(_Portgroup(backing.port.portgroupKey)) if backing.port else None
        else:
            network = getattr(backing, "deviceName", None)
        guest = reported.get(int(card.key))
        nics.append(ObservedNIC(key=str(card.key), network=network, mac=str(card.macAddress or "").upper() or None,
                                addresses=tuple(str(ip) for ip in (guest.ipAddress or ())) if guest else ()))
    return tuple(nics)


def snapshot_nodes(roots: Any, parent: Any = None) -> Iterator[tuple[Any, Any]]:
    """(node, its parent node or None) for every node of a snapshot tree (VirtualMachineSnapshotTree)."""
    for node in roots or ():
        yield node, parent
        yield from snapshot_nodes(node.childSnapshotList, node)


def snapshot_ids(info: Any) -> frozenset[str]:
    """The morefs of every snapshot in a VM's `snapshot` property (VirtualMachineSnapshotInfo)."""
    if info is None:
        return frozenset()
    return frozenset(str(node.snapshot._moId) for node, _ in snapshot_nodes(info.rootSnapshotList))


def owner_of(custom_values: Any, owner_key: int | None) -> str | None:
    if owner_key is None:
        return None
    for value in custom_values or ():
        if value.key == owner_key and getattr(value, "value", ""):
            return str(value.value)
    return None


def _moid(obj: Any) -> str | None:
    return str(obj._moId) if obj is not None else None


def _ips(props: Mapping[str, Any]) -> tuple[str, ...]:
    seen: list[str] = []
    primary = props.get("guest.ipAddress")
    if primary:
        seen.append(str(primary))
    for nic in props.get("guest.net") or ():
        for ip in nic.ipAddress or ():
            if str(ip) not in seen:
                seen.append(str(ip))
    return tuple(seen)


def with_disks(props: Mapping[str, Any]) -> dict[str, Any]:
    """`props` with DEVICE_PROPERTIES, if read, turned into its disks and ethernet cards (and the raw device lists
    dropped)."""
    kept = {k: v for k, v in props.items() if k not in DEVICE_PROPERTIES}
    if "config.hardware.device" in props:
        devices = props["config.hardware.device"] or ()
        kept[DISKS] = observed_disks(devices, disk_names(props.get("config.extraConfig")))
        kept[NIC_CARDS] = tuple(d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard))
    return kept


def to_server(ref: str, props: Mapping[str, Any], owner_key: int | None,
              name_of: Callable[[Any], str | None] = _moid) -> ObservedVM | None:
    """The ObservedVM for a VM's properties; None for templates and VMs without a config yet.

    `name_of` turns host, datastore and pool references into what status shows (names, by default IDs)."""
    uuid = props.get("config.instanceUuid")
    if not uuid or props.get("config.template"):
        return None
    datastores = props.get("datastore") or ()
    return ObservedVM(
        unique_id=str(uuid),
        ref=ref,
        name=str(props.get("name", "")),
        power=POWER.get(str(props.get("runtime.powerState")), PowerState.OFF),
        cpu=int(props.get("config.hardware.numCPU") or 0),
        memory_mib=int(props.get("config.hardware.memoryMB") or 0),
        owner_uid=owner_of(props.get("customValue"), owner_key),
        disks=props.get(DISKS) or (),
        nics=observed_nics(props.get(NIC_CARDS), props.get("guest.net"), name_of),
        disks_known=DISKS in props,
        host=name_of(props.get("runtime.host")),
        datastore=name_of(datastores[0]) if datastores else None,
        resource_pool=name_of(props.get("resourcePool")),
        ip_addresses=_ips(props),
        hostname=str(props.get("guest.hostName") or "") or None,
        # What VMware Tools report, else the OS the VM is configured for.
        guest_os=str(props.get("guest.guestFullName") or props.get("config.guestFullName") or "") or None,
        cpu_hot_add=bool(props.get("config.cpuHotAddEnabled")),
        memory_hot_add=bool(props.get("config.memoryHotAddEnabled")),
        snapshots=snapshot_ids(props.get("snapshot")),
    )
