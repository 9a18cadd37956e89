"""Pure builders of pyVmomi clone and reconfigure specs. No vCenter calls: everything is passed in.

Data disk names are kept in extraConfig as `herder.disk.<bus>.<unit> = <name>`, written in the same spec
that adds the disk. The SCSI position is chosen here, so the mark needs no second call, and it does not
depend on file names (which Storage vMotion rewrites) or on device keys (which vCenter assigns later).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyVmomi import vim

from herder.api.ecs import PowerState
from herder.errors import NotFound, ProviderError
from herder.providers.types import DataDisk, NICSpec, VMChange, VMSpec
from herder.providers.vcenter.observe import controller_buses, disk_slot

_SCSI_UNITS = [u for u in range(16) if u != 7]  # unit 7 is the controller itself
_MAX_SCSI_BUSES = 4
_NEW_CONTROLLER_KEY = -100  # temporary keys: vCenter assigns real ones

# pyVmomi's data-object constructors are untyped; these Any-typed aliases keep that to one place.
_Option: Any = vim.option.OptionValue
_Change: Any = vim.vm.device.VirtualDeviceSpec
_Config: Any = vim.vm.ConfigSpec
_Clone: Any = vim.vm.CloneSpec
_Relocate: Any = vim.vm.RelocateSpec
_Disk: Any = vim.vm.device.VirtualDisk
_FlatBacking: Any = vim.vm.device.VirtualDisk.FlatVer2BackingInfo
_PVSCSI: Any = vim.vm.device.ParaVirtualSCSIController
_Vmxnet3: Any = vim.vm.device.VirtualVmxnet3
_Connect: Any = vim.vm.device.VirtualDevice.ConnectInfo
_Cust: Any = vim.vm.customization
_CustomizationSpec: Any = _Cust.Specification
_Sysprep: Any = _Cust.Sysprep
_SysprepText: Any = _Cust.SysprepText
_LinuxPrep: Any = _Cust.LinuxPrep
_GuiUnattended: Any = _Cust.GuiUnattended
_UserData: Any = _Cust.UserData
_Identification: Any = _Cust.Identification
_Password: Any = _Cust.Password
_FixedName: Any = _Cust.FixedName
_GuiRunOnce: Any = _Cust.GuiRunOnce
_GlobalIP: Any = _Cust.GlobalIPSettings
_AdapterMapping: Any = _Cust.AdapterMapping
_IPSettings: Any = _Cust.IPSettings
_Dhcp: Any = _Cust.DhcpIpGenerator
_FixedIp: Any = _Cust.FixedIp
_UTC = 85  # Windows' time zone index of (GMT) Greenwich Mean Time, when the spec names none


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def guestinfo(spec: VMSpec) -> list[Any]:
    """cloud-init's VMware datasource (Linux): metadata (instance-id, host name, SSH keys) and user data, base64."""
    guest = spec.guest
    if guest.windows:
        return []
    host = guest.hostname or spec.name
    metadata: dict[str, Any] = {"instance-id": spec.uid,
                                "local-hostname": f"{host}.{guest.dns_domain}" if guest.dns_domain else host}
    if guest.ssh_keys:
        metadata["public-keys"] = list(guest.ssh_keys)
    options = [
        _Option(key="guestinfo.metadata", value=_b64(json.dumps(metadata))),
        _Option(key="guestinfo.metadata.encoding", value="base64"),
    ]
    if guest.user_data:
        options += [
            _Option(key="guestinfo.userdata", value=_b64(guest.user_data)),
            _Option(key="guestinfo.userdata.encoding", value="base64"),
        ]
    return options


def customization(spec: VMSpec, nics: int) -> Any:
    """The CustomizationSpec the clone carries, applied by the guest at its first boot: its identity (Sysprep, the
    Secret's whole unattend.xml, or LinuxPrep) and one adapter mapping per NIC (`nics`, as vCenter requires)."""
    guest = spec.guest
    name = _FixedName(name=guest.hostname or spec.name)
    identity: Any
    if guest.unattend:
        identity = _SysprepText(value=guest.unattend)
    elif guest.windows:
        join = guest.domain_join
        identity = _Sysprep(
            guiUnattended=_GuiUnattended(
                password=_Password(value=guest.admin_password, plainText=True) if guest.admin_password else None,
                timeZone=guest.time_zone if guest.time_zone is not None else _UTC, autoLogon=False,
                autoLogonCount=1),
            userData=_UserData(fullName="Administrator", orgName=guest.organization or "herder", computerName=name,
                               productId=guest.product_key or ""),
            identification=_Identification(
                joinDomain=guest.domain, domainAdmin=join.username if join else None,
                domainAdminPassword=_Password(value=join.password, plainText=True) if join else None,
                joinWorkgroup=None if guest.domain else (guest.workgroup or "WORKGROUP")),
            guiRunOnce=_GuiRunOnce(commandList=list(guest.first_logon)) if guest.first_logon else None,
        )
    else:
        identity = _LinuxPrep(hostName=name, domain=guest.dns_domain or "", hwClockUTC=True)
    wanted = list(spec.networks)
    mappings = [_adapter(wanted[index] if index < len(wanted) else None) for index in range(nics)]
    dns = list(dict.fromkeys(server for nic in wanted if nic.static for server in nic.dns))
    return _CustomizationSpec(identity=identity, globalIPSettings=_GlobalIP(dnsServerList=dns or None),
                              nicSettingMap=mappings)


def _adapter(nic: NICSpec | None) -> Any:
    """One adapter mapping: DHCP, or the NIC's fixed address with its netmask, gateway and DNS servers."""
    if nic is None or not nic.static or not nic.address:
        return _AdapterMapping(adapter=_IPSettings(ip=_Dhcp()))
    address = ipaddress.ip_interface(nic.address)
    return _AdapterMapping(adapter=_IPSettings(
        ip=_FixedIp(ipAddress=str(address.ip)), subnetMask=str(address.netmask),
        gateway=[nic.gateway] if nic.gateway else None, dnsServerList=list(nic.dns) or None))


def nic_count(devices: Sequence[Any], backings: Sequence[Any]) -> int:
    """How many NICs a clone has: one per backing given, else the template's."""
    return len(backings) if backings else sum(isinstance(d, vim.vm.device.VirtualEthernetCard) for d in devices)


def _disks(devices: Iterable[Any]) -> list[Any]:
    return sorted((d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)), key=lambda d: d.key)


def _free_slots(devices: Sequence[Any], needed: int) -> tuple[list[Any], list[tuple[int, int, int]]]:
    """(controller to add, if any; `needed` free (controller key, bus, unit) SCSI slots)."""
    buses = controller_buses(devices)
    used = {(d.controllerKey, d.unitNumber) for d in devices if getattr(d, "controllerKey", None) in buses}
    slots = [
        (key, bus, unit)
        for key, bus in sorted(buses.items(), key=lambda kv: kv[1])
        for unit in _SCSI_UNITS
        if (key, unit) not in used
    ]
    added: list[Any] = []
    if len(slots) < needed:
        free_buses = [b for b in range(_MAX_SCSI_BUSES) if b not in buses.values()]
        if not free_buses:
            raise ProviderError("no free SCSI slot for another data disk")
        controller = _PVSCSI(key=_NEW_CONTROLLER_KEY, busNumber=free_buses[0], sharedBus="noSharing")
        added.append(_Change(operation="add", device=controller))
        slots += [(_NEW_CONTROLLER_KEY, free_buses[0], unit) for unit in _SCSI_UNITS]
    return added, slots[:needed]


def add_disks(devices: Sequence[Any], disks: Sequence[DataDisk]) -> tuple[list[Any], list[Any]]:
    """Device changes adding thin data disks, and the extraConfig marks that name them."""
    if not disks:
        return [], []
    changes, slots = _free_slots(devices, len(disks))
    marks = []
    for index, (disk, (controller_key, bus, unit)) in enumerate(zip(disks, slots, strict=True)):
        backing = _FlatBacking(diskMode="persistent", thinProvisioned=True, fileName="")
        device = _Disk(
            key=-(index + 1),
            controllerKey=controller_key,
            unitNumber=unit,
            backing=backing,
            capacityInBytes=disk.size_bytes,
            capacityInKB=disk.size_bytes // 1024,
        )
        changes.append(_Change(operation="add", fileOperation="create", device=device))
        marks.append(_Option(key=disk_slot(bus, unit), value=disk.name))
    return changes, marks


def grow_disk(disk: Any, size_bytes: int) -> Any:
    if size_bytes < int(disk.capacityInBytes or 0):
        raise ProviderError(f"disk {disk.key} cannot shrink to {size_bytes} bytes")
    grown = copy.deepcopy(disk)
    grown.capacityInBytes = size_bytes
    grown.capacityInKB = size_bytes // 1024
    return _Change(operation="edit", device=grown)


def remove_disks(devices: Sequence[Any], keys: Iterable[str]) -> tuple[list[Any], list[Any]]:
    """Detach and delete the disks with these keys (already gone: nothing to do), clearing their names."""
    wanted = set(keys)
    buses = controller_buses(devices)
    changes: list[Any] = []
    clears = []
    for disk in _disks(devices):
        if str(disk.key) not in wanted:
            continue
        changes.append(_Change(operation="remove", fileOperation="destroy", device=disk))
        if disk.controllerKey in buses:
            # An empty value deletes the extraConfig key.
            clears.append(_Option(key=disk_slot(buses[disk.controllerKey], disk.unitNumber), value=""))
    return changes, clears


def _manual_mac(card: Any, mac: str | None) -> None:
    if mac:
        card.addressType = "manual"
        card.macAddress = mac


def _new_nic(key: int, backing: Any, mac: str | None) -> Any:
    connect = _Connect(startConnected=True, allowGuestControl=True, connected=True)
    nic = _Vmxnet3(key=key, backing=backing, addressType="generated", connectable=connect)
    _manual_mac(nic, mac)
    return _Change(operation="add", device=nic)


def networks(devices: Sequence[Any], backings: Sequence[Any], nics: Sequence[NICSpec] = ()) -> list[Any]:
    """Point the template's NICs at `backings` in order, add VMXNET3 NICs for the rest, drop extra ones; a NIC that
    `nics` gives a MAC address gets it."""
    cards = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    changes: list[Any] = []
    for index, backing in enumerate(backings):
        mac = nics[index].mac if index < len(nics) else None
        if index < len(cards):
            nic = copy.deepcopy(cards[index])
            nic.backing = backing
            _manual_mac(nic, mac)
            changes.append(_Change(operation="edit", device=nic))
            continue
        changes.append(_new_nic(-(200 + index), backing, mac))
    changes += [_Change(operation="remove", device=nic) for nic in cards[len(backings) :]]
    return changes


def nic_changes(devices: Sequence[Any], change: VMChange, backings: Mapping[str, Any]) -> list[Any]:
    """Device changes for a VMChange's NICs: add (at the end), change network or MAC address, remove."""
    cards = {str(d.key): d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)}
    changes: list[Any] = []
    for key, wanted in change.change_nics:
        if key not in cards:
            raise NotFound(f"NIC {key} does not exist on the VM")
        nic = copy.deepcopy(cards[key])
        nic.backing = backings[wanted.network]
        _manual_mac(nic, wanted.mac)
        changes.append(_Change(operation="edit", device=nic))
    changes += [_new_nic(-(300 + index), backings[wanted.network], wanted.mac)
                for index, wanted in enumerate(change.add_nics)]
    changes += [_Change(operation="remove", device=cards[key]) for key in change.remove_nics if key in cards]
    return changes


def clone_config(spec: VMSpec, template_devices: Sequence[Any], backings: Sequence[Any]) -> Any:
    """The config part of the clone: identity, size, data disks, NICs and guestinfo, in one spec.

    The OS disk is grown afterwards by a reconfigure: editing the template disk inside a clone spec made
    vcsim point the clone at the template's own disk file."""
    changes: list[Any] = []
    disk_changes, marks = add_disks(template_devices, spec.data_disks)
    changes += disk_changes
    if backings:
        changes += networks(template_devices, backings, spec.networks)
    return _Config(
        instanceUuid=spec.uid,  # the crash-safe identity: a retried create finds this VM by it
        numCPUs=spec.cpu,
        memoryMB=spec.memory_mib,
        deviceChange=changes,
        extraConfig=guestinfo(spec) + marks,
    )


def clone_spec(config: Any, *, pool: Any, datastore: Any, host: Any, power: PowerState,
               customize: Any = None) -> Any:
    location = _Relocate(pool=pool, datastore=datastore, host=host)
    # Suspended needs a running VM first; set_power suspends it afterwards.
    return _Clone(location=location, template=False, powerOn=power != PowerState.OFF, config=config,
                  customization=customize)


def reconfig_spec(devices: Sequence[Any], change: VMChange, backings: Mapping[str, Any] | None = None) -> Any:
    """One ReconfigVM spec for a VMChange; `backings` are the network backings its NICs name, by network."""
    by_key: Mapping[str, Any] = {str(d.key): d for d in _disks(devices)}
    changes: list[Any] = []
    for key, size in change.grow_disks:
        if key not in by_key:
            raise NotFound(f"disk {key} does not exist on the VM")
        changes.append(grow_disk(by_key[key], size))
    removed, clears = remove_disks(devices, change.remove_disks)
    added, marks = add_disks(devices, change.add_disks)
    nics = nic_changes(devices, change, backings or {})
    config = _Config(deviceChange=changes + removed + added + nics, extraConfig=clears + marks)
    if change.cpu:
        config.numCPUs = change.cpu
    if change.memory_mib:
        config.memoryMB = change.memory_mib
    return config


def relocate_spec(*, host: Any = None, datastore: Any = None, pool: Any = None) -> Any:
    """A live move: only what changes is set, so the VM keeps what is not asked (its pool, its host), and its
    disks follow the datastore."""
    return _Relocate(host=host, datastore=datastore, pool=pool)
