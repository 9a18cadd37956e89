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


Namer = Callable[[Any], str | None]
Card = tuple[int, str | None, str | None]  # an ethernet card as kept: (device key, network, MAC address)
GuestNIC = tuple[int | None, tuple[str, ...]]  # a NIC as the guest reports it: (device key, addresses)


def nic_cards(devices: Any, name_of: Namer) -> tuple[Card, ...]:
    """The VM's ethernet cards in device-key order: the network each is backed by (a distributed port group by its
    name) and its MAC address."""
    cards: list[Card] = []
    for card in sorted((d for d in devices or () if isinstance(d, vim.vm.device.VirtualEthernetCard)),
                       key=lambda d: d.key):
        backing = card.backing
        if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
            network = name_of(_Portgroup(backing.port.portgroupKey)) if backing.port else None
        else:
            network = getattr(backing, "deviceName", None)
        cards.append((int(card.key), network, str(card.macAddress or "").upper() or None))
    return tuple(cards)


def guest_nics(nics: Any) -> tuple[GuestNIC, ...]:
    """The NICs the guest reports (`guest.net`): the device each is, and its addresses."""
    return tuple((int(n.deviceConfigId) if getattr(n, "deviceConfigId", None) is not None else None,
                  tuple(str(ip) for ip in n.ipAddress or ())) for n in nics or ())


def observed_nics(cards: tuple[Card, ...], guest_net: tuple[GuestNIC, ...]) -> tuple[ObservedNIC, ...]:
    """NICs (NIC_CARDS), each with the addresses the guest reports on it."""
    reported = {key: addresses for key, addresses in guest_net if key is not None}
    return tuple(ObservedNIC(key=str(key), network=network, mac=mac, addresses=reported.get(key, ()))
                 for key, network, mac in cards)


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


def custom_values(values: Any) -> tuple[tuple[int, str], ...]:
    """A VM's custom field values (`customValue`) as (field key, value) pairs; empty values left out."""
    return tuple((int(v.key), str(v.value)) for v in values or () if getattr(v, "value", ""))


def owner_of(values: tuple[tuple[int, str], ...], owner_key: int | None) -> str | None:
    """herder's owner mark among a VM's custom values (as `custom_values` keeps them)."""
    return next((value for key, value in values if key == owner_key), None) if owner_key is not None else None


def _moid(obj: Any) -> str | None:
    return str(obj._moId) if obj is not None else None


def _ips(props: Mapping[str, Any]) -> tuple[str, ...]:
    primary = props.get("guest.ipAddress")
    reported = (ip for _, addresses in props.get("guest.net", ()) for ip in addresses)
    return tuple(dict.fromkeys((*([str(primary)] if primary else []), *reported)))


# Raw values the inventory keeps per VM in a smaller form, by property: a VM's NICs, custom values and snapshot
# tree are trees of pyVmomi objects (kilobytes per VM), of which herder reads a few strings.
_COMPACT: dict[str, Callable[[Any], Any]] = {
    "guest.net": guest_nics,
    "customValue": custom_values,
    "snapshot": snapshot_ids,
    "guest.ipAddress": lambda ip: str(ip) if ip else None,
}
# References to a host, datastores and a pool: kept as the names status shows (pyVmomi objects per VM otherwise).
_NAMED = frozenset({"runtime.host", "resourcePool"})


def compact_value(name: str, value: Any, name_of: Namer = _moid) -> Any:
    """What is kept of the raw value of property `name` (what `to_server` reads). `name_of` turns host, datastore,
    pool and port group references into what status shows (names; by default IDs)."""
    if name in _NAMED:
        return name_of(value)
    if name == "datastore":
        return name_of(value[0]) if value else None
    convert = _COMPACT.get(name)
    return convert(value) if convert is not None else value


def compact(props: Mapping[str, Any], name_of: Namer = _moid) -> dict[str, Any]:
    """A VM's raw properties as kept: each in its small form, and DEVICE_PROPERTIES, if read, turned into its
    disks and ethernet cards (the raw device lists dropped)."""
    kept = {k: compact_value(k, v, name_of) for k, v in props.items() if k not in DEVICE_PROPERTIES}
    if "config.hardware.device" in props:
        devices = props["config.hardware.device"] or ()
        kept[DISKS] = observed_disks(devices, disk_names(props.get("config.extraConfig")))
        kept[NIC_CARDS] = nic_cards(devices, name_of)
    return kept


def to_server(ref: str, props: Mapping[str, Any], owner_key: int | None) -> ObservedVM | None:
    """The ObservedVM for a VM's properties (as `compact` keeps them); None for templates and VMs without a
    config yet."""
    uuid = props.get("config.instanceUuid")
    if not uuid or props.get("config.template"):
        return None
    return ObservedVM(
        unique_id=str(uuid),
        ref=ref,
        name=str(props.get("name", "")),
        power=POWER.get(str(props.get("runtime.powerState")), PowerState.OFF),
        cpu=int(props.get("config.hardware.numCPU") or 0),
        memory_mib=int(props.get("config.hardware.memoryMB") or 0),
        owner_uid=owner_of(props.get("customValue", ()), owner_key),
        disks=props.get(DISKS) or (),
        nics=observed_nics(props.get(NIC_CARDS, ()), props.get("guest.net", ())),
        disks_known=DISKS in props,
        host=props.get("runtime.host"),
        datastore=props.get("datastore"),
        resource_pool=props.get("resourcePool"),
        ip_addresses=_ips(props),
        hostname=str(props.get("guest.hostName") or "") or None,
        # What VMware Tools report, else the OS the VM is configured for.
        guest_os=str(props.get("guest.guestFullName") or props.get("config.guestFullName") or "") or None,
        cpu_hot_add=bool(props.get("config.cpuHotAddEnabled")),
        memory_hot_add=bool(props.get("config.memoryHotAddEnabled")),
        snapshots=props.get("snapshot", frozenset()),
    )
