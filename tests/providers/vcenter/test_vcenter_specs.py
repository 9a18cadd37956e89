"""Pure spec builders: what the clone and reconfigure specs ask vCenter for."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pyVmomi import vim

from herder.errors import ProviderError
from herder.providers.types import DataDisk, GuestSetup, Login, NICSpec, PowerState, VCenterPlacement, VMChange, VMSpec
from herder.providers.vcenter import specs
from herder.providers.vcenter.observe import disk_names, observed_disks

GIB = 1024**3


def _template() -> list[Any]:
    scsi = vim.vm.device.VirtualLsiLogicController(key=1000, busNumber=0)
    disk = vim.vm.device.VirtualDisk(
        key=2000,
        controllerKey=1000,
        unitNumber=0,
        capacityInBytes=10 * GIB,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName="[ds] t/t.vmdk"),
    )
    nic = vim.vm.device.VirtualE1000(key=4000, backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo())
    return [scsi, disk, nic]


def _spec(**overrides: Any) -> VMSpec:
    fields: dict[str, Any] = {
        "uid": "0b7c2bd4-9f1e-4c53-9d2a-5c1e7d6b8f00",
        "name": "web-0",
        "template": "t",
        "cpu": 2,
        "memory_mib": 4096,
        "placement": VCenterPlacement(),
    }
    fields.update(overrides)
    return VMSpec(**fields)


def _extra(config: Any) -> dict[str, str]:
    return {o.key: o.value for o in config.extraConfig}


def test_clone_config_stamps_identity_and_size() -> None:
    config = specs.clone_config(_spec(), _template(), ())
    assert config.instanceUuid == "0b7c2bd4-9f1e-4c53-9d2a-5c1e7d6b8f00"
    assert (config.numCPUs, config.memoryMB) == (2, 4096)
    assert config.deviceChange == []


def test_guestinfo_carries_metadata_and_user_data() -> None:
    extra = _extra(specs.clone_config(_spec(guest=GuestSetup(hostname="web", user_data="#cloud-config\n")),
                                      _template(), ()))
    metadata = json.loads(base64.b64decode(extra["guestinfo.metadata"]))
    assert metadata == {"instance-id": "0b7c2bd4-9f1e-4c53-9d2a-5c1e7d6b8f00", "local-hostname": "web"}
    assert base64.b64decode(extra["guestinfo.userdata"]) == b"#cloud-config\n"
    assert extra["guestinfo.userdata.encoding"] == "base64"


def test_guestinfo_carries_the_domain_and_ssh_keys_and_nothing_for_windows() -> None:
    keys = ("ssh-ed25519 AAAA1 alice", "ssh-rsa AAAA2 bob")
    extra = _extra(specs.clone_config(_spec(guest=GuestSetup(hostname="web", dns_domain="corp.example",
                                                             ssh_keys=keys)), _template(), ()))
    metadata = json.loads(base64.b64decode(extra["guestinfo.metadata"]))
    assert metadata["local-hostname"] == "web.corp.example" and metadata["public-keys"] == list(keys)
    windows = _extra(specs.clone_config(_spec(guest=GuestSetup(windows=True, hostname="WEB")), _template(), ()))
    assert not [k for k in windows if k.startswith("guestinfo.")]


def test_a_windows_guest_gets_a_sysprep_with_one_adapter_mapping_per_nic() -> None:
    guest = GuestSetup(windows=True, hostname="WEB01", admin_password="S3cret!", time_zone=110,
                       product_key="AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", domain="corp.example",
                       domain_join=Login("corp\\joiner", "J0in!"), first_logon=("echo hi",))
    spec = specs.customization(_spec(guest=guest), specs.nic_count(_template(), ()))
    identity = spec.identity
    assert isinstance(identity, vim.vm.customization.Sysprep)
    assert (identity.userData.computerName.name, identity.userData.productId) == ("WEB01",
                                                                                   "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    assert (identity.guiUnattended.password.value, identity.guiUnattended.password.plainText) == ("S3cret!", True)
    assert identity.guiUnattended.timeZone == 110
    assert (identity.identification.joinDomain, identity.identification.domainAdmin,
            identity.identification.domainAdminPassword.value) == ("corp.example", "corp\\joiner", "J0in!")
    assert identity.identification.joinWorkgroup is None
    assert identity.guiRunOnce.commandList == ["echo hi"]
    assert len(spec.nicSettingMap) == 1 and isinstance(spec.nicSettingMap[0].adapter.ip,
                                                       vim.vm.customization.DhcpIpGenerator)
    workgroup = specs.customization(_spec(guest=GuestSetup(windows=True, hostname="W")), 2).identity
    assert workgroup.identification.joinWorkgroup == "WORKGROUP" and workgroup.guiUnattended.password is None
    text = specs.customization(_spec(guest=GuestSetup(windows=True, unattend="<unattend/>")), 1).identity
    assert isinstance(text, vim.vm.customization.SysprepText) and text.value == "<unattend/>"


def test_a_linux_guest_gets_a_linuxprep() -> None:
    spec = specs.customization(_spec(guest=GuestSetup(hostname="web", dns_domain="corp.example")), 3)
    assert isinstance(spec.identity, vim.vm.customization.LinuxPrep)
    assert (spec.identity.hostName.name, spec.identity.domain) == ("web", "corp.example")
    assert len(spec.nicSettingMap) == 3
    assert specs.nic_count(_template(), ["a", "b"]) == 2


def test_no_user_data_no_userdata_key() -> None:
    assert "guestinfo.userdata" not in _extra(specs.clone_config(_spec(), _template(), ()))


def test_clone_never_edits_the_template_disk() -> None:
    # Growing the OS disk is a reconfigure after the clone, so the clone cannot share the template's file.
    assert specs.clone_config(_spec(os_disk_bytes=20 * GIB), _template(), ()).deviceChange == []


def test_data_disks_are_thin_and_named_by_slot() -> None:
    config = specs.clone_config(_spec(data_disks=(DataDisk("data", GIB), DataDisk("logs", 2 * GIB))), _template(), ())
    adds = [c for c in config.deviceChange if c.operation == "add"]
    assert [(c.fileOperation, c.device.controllerKey, c.device.unitNumber) for c in adds] == [
        ("create", 1000, 1),
        ("create", 1000, 2),
    ]
    assert all(c.device.backing.thinProvisioned for c in adds)
    assert disk_names(config.extraConfig) == {"herder.disk.0.1": "data", "herder.disk.0.2": "logs"}


def test_full_controller_gets_a_new_pvscsi() -> None:
    devices = _template() + [
        vim.vm.device.VirtualDisk(key=2001 + u, controllerKey=1000, unitNumber=u) for u in range(1, 16) if u != 7
    ]
    changes, marks = specs.add_disks(devices, [DataDisk("extra", GIB)])
    controller, disk = changes
    assert isinstance(controller.device, vim.vm.device.ParaVirtualSCSIController)
    assert (controller.device.busNumber, disk.device.controllerKey) == (1, controller.device.key)
    assert [m.key for m in marks] == ["herder.disk.1.0"]


def test_networks_replace_add_and_drop_nics() -> None:
    backings = [vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=n) for n in ("a", "b")]
    changes = specs.networks(_template(), backings)
    assert [(c.operation, c.device.backing.deviceName) for c in changes] == [("edit", "a"), ("add", "b")]
    dropped = specs.networks([*_template(), vim.vm.device.VirtualVmxnet3(key=4001)], backings[:1])
    assert [(c.operation, c.device.key) for c in dropped] == [("edit", 4000), ("remove", 4001)]


def test_template_devices_are_not_mutated() -> None:
    template = _template()
    specs.clone_config(
        _spec(os_disk_bytes=20 * GIB), template, [vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="x")]
    )
    assert template[1].capacityInBytes == 10 * GIB
    assert not template[2].backing.deviceName


def test_clone_spec_power() -> None:
    config = specs.clone_config(_spec(), _template(), ())
    assert specs.clone_spec(config, pool=None, datastore=None, host=None, power=PowerState.ON).powerOn is True
    assert specs.clone_spec(config, pool=None, datastore=None, host=None, power=PowerState.OFF).powerOn is False
    assert specs.clone_spec(config, pool=None, datastore=None, host=None, power=PowerState.SUSPENDED).powerOn


def test_reconfig_spec() -> None:
    devices = [*_template(), vim.vm.device.VirtualDisk(key=2001, controllerKey=1000, unitNumber=1, capacityInBytes=GIB)]
    change = VMChange(
        cpu=4, grow_disks=(("2000", 30 * GIB),), add_disks=(DataDisk("logs", GIB),), remove_disks=("2001", "9999")
    )
    config = specs.reconfig_spec(devices, change)
    assert config.numCPUs == 4
    assert config.memoryMB is None
    ops = [(c.operation, c.fileOperation, c.device.unitNumber) for c in config.deviceChange]
    assert ops == [("edit", None, 0), ("remove", "destroy", 1), ("add", "create", 2)]
    assert _extra(config) == {"herder.disk.0.1": "", "herder.disk.0.2": "logs"}


def test_disks_cannot_shrink_and_unknown_grow_fails() -> None:
    with pytest.raises(ProviderError, match="shrink"):
        specs.reconfig_spec(_template(), VMChange(grow_disks=(("2000", GIB),)))
    with pytest.raises(ProviderError, match="does not exist"):
        specs.reconfig_spec(_template(), VMChange(grow_disks=(("2999", 20 * GIB),)))


def test_observed_disks_names_and_os_disk() -> None:
    devices = [*_template(), vim.vm.device.VirtualDisk(key=2001, controllerKey=1000, unitNumber=1, capacityInBytes=GIB)]
    marks = [
        vim.option.OptionValue(key="herder.disk.0.1", value="data"),
        vim.option.OptionValue(key="guestinfo.userdata", value="secret"),
    ]
    disks = observed_disks(devices, disk_names(marks))
    assert [(d.key, d.name, d.is_os_disk) for d in disks] == [("2000", None, True), ("2001", "data", False)]


def test_static_addresses_go_in_the_adapter_mapping() -> None:
    wanted = (NICSpec("VM Network"), NICSpec("Backup", static=True, address="10.0.5.7/23", gateway="10.0.4.1",
                                              dns=("10.0.4.2", "10.0.4.3")))
    spec = specs.customization(_spec(networks=wanted), 2)
    dhcp, fixed = spec.nicSettingMap
    assert isinstance(dhcp.adapter.ip, vim.vm.customization.DhcpIpGenerator)
    assert (fixed.adapter.ip.ipAddress, fixed.adapter.subnetMask, fixed.adapter.gateway) == (
        "10.0.5.7", "255.255.254.0", ["10.0.4.1"])
    assert fixed.adapter.dnsServerList == ["10.0.4.2", "10.0.4.3"]
    assert spec.globalIPSettings.dnsServerList == ["10.0.4.2", "10.0.4.3"]


def test_nic_changes_add_move_set_mac_and_remove() -> None:
    devices = [*_template(), vim.vm.device.VirtualVmxnet3(key=4001, macAddress="00:50:56:00:00:02")]
    backings = {"A": vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="A"),
                "B": vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="B")}
    change = VMChange(change_nics=(("4000", NICSpec("A", mac="00:50:56:3F:00:10")),),
                      add_nics=(NICSpec("B"),), remove_nics=("4001",))
    edit, add, remove = specs.reconfig_spec(devices, change, backings).deviceChange
    assert (edit.operation, edit.device.key, edit.device.backing.deviceName) == ("edit", 4000, "A")
    assert (edit.device.addressType, edit.device.macAddress) == ("manual", "00:50:56:3F:00:10")
    assert (add.operation, add.device.backing.deviceName, add.device.addressType) == ("add", "B", "generated")
    assert (remove.operation, remove.device.key) == ("remove", 4001)
    assert not devices[2].backing.deviceName and not devices[2].macAddress  # the devices read are not mutated
