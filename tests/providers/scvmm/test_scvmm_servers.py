"""The VM lifecycle against the simulator, checked through GET /admin/state as well as through find()."""

from __future__ import annotations

import uuid

import pytest
from scvmm_world import World, wait_task

from herder.errors import AddressUnavailable, Conflict, NotFound, NotSupported
from herder.providers.scvmm import SCVMMProvider
from herder.providers.scvmm.vms import disk_file
from herder.providers.types import (
    DataDisk,
    GuestSetup,
    Login,
    NICSpec,
    ObservedVM,
    PowerState,
    SCVMMPlacement,
    TaskStatus,
    VMChange,
    VMSpec,
)

GIB = 1 << 30


class _AnyMac(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other.split(":")) == 6

    __hash__ = str.__hash__


ANY_MAC = _AnyMac("any MAC")


def spec(uid: str | None = None, power: PowerState = PowerState.ON, **kwargs: object) -> VMSpec:
    values: dict[str, object] = {
        "uid": uid or str(uuid.uuid4()), "name": "web-1", "template": "ubuntu-22.04-tmpl", "cpu": 2,
        "memory_mib": 4096, "placement": SCVMMPlacement(host_group="All Hosts\\Zone-A"),
        "data_disks": (DataDisk("data", 10 * GIB),), "power": power, **kwargs,
    }
    return VMSpec(**values)  # type: ignore[arg-type]


def created(provider: SCVMMProvider, s: VMSpec) -> ObservedVM:
    result = wait_task(provider, provider.vms.create(s))
    assert result.status == TaskStatus.SUCCEEDED, result.error
    found = provider.vms.find(s.uid)
    assert found is not None
    return found


def test_create_then_find_matches_the_simulator_state(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    ref = provider.vms.create(s)
    assert ref.operation == "create" and not ref.id.startswith("done:")
    server = created(provider, s)
    assert (server.name, server.cpu, server.memory_mib, server.power, server.owner_uid) == (
        "web-1", 2, 4096, PowerState.ON, s.uid)
    assert not server.busy and not server.cpu_hot_add
    data = [d for d in server.disks if not d.is_os_disk]
    assert [(d.name, d.size_bytes) for d in data] == [("data", 10 * GIB)]
    assert sum(d.is_os_disk for d in server.disks) == 1
    state = world.vm(server.unique_id)
    assert state is not None
    assert (state["cpu_count"], state["memory_mb"], state["status"]) == (2, 4096, "Running")
    assert state["custom"] == {"HerderEcsUid": s.uid}
    assert state["host_group"] == "All Hosts\\Zone-A"
    assert sorted((d["lun"], d["size_mb"], d["file"]) for d in state["disks"])[1] == (
        1, 10240, disk_file("web-1", DataDisk("data", 10 * GIB)))
    assert provider.vms.find(s.uid, known_ref=server.ref) == server
    assert provider.vms.find_by_unique_id(server.unique_id) == server


def test_create_again_never_duplicates(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    first = provider.vms.create(s)
    again = provider.vms.create(s)  # as if the first TaskRef was lost in a crash
    assert again.id == first.id  # the running creation job is followed, not a second VM made
    server = created(provider, s)
    assert provider.vms.create(s).id == f"done:{server.ref}"
    assert len(world.vms()) == 1


def test_a_create_that_crashed_before_the_custom_property_is_found(world: World, provider: SCVMMProvider) -> None:
    uid = str(uuid.uuid4())
    # What a crash right after New-SCVirtualMachine leaves: the VM with its Description mark, no property.
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-A'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'web-1' -VMHostGroup $hg\n"
        f"$vm = New-SCVirtualMachine -Name 'web-1' -VMConfiguration $cfg -Description 'herder-ecs-uid={uid}' "
        "-RunAsynchronously\n[string]$vm.ID"
    )
    found = provider.vms.find(uid)
    assert found is not None and found.unique_id == vm_id and found.owner_uid == uid
    wait_task(provider, provider.vms.create(spec(uid)))
    assert [v["id"] for v in world.vms()] == [vm_id]
    assert (world.vm(vm_id) or {})["custom"] == {"HerderEcsUid": uid}  # healed by the second create


def test_two_vms_claiming_one_ecs_is_a_conflict(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    other = created(provider, spec(name="web-2"))
    provider.vms.adopt(other, s.uid)
    with pytest.raises(Conflict, match=server.ref):
        provider.vms.find(s.uid)


def test_reconfigure_and_disks(world: World, provider: SCVMMProvider) -> None:
    s = spec(power=PowerState.OFF)
    server = created(provider, s)
    assert server.power == PowerState.OFF
    data = next(d for d in server.disks if d.name == "data")
    change = VMChange(cpu=4, memory_mib=8192, grow_disks=((data.key, 20 * GIB),),
                          add_disks=(DataDisk("logs", 2 * GIB),))
    assert wait_task(provider, provider.vms.reconfigure(server, change)).status == TaskStatus.SUCCEEDED
    after = provider.vms.find(s.uid)
    assert after is not None and (after.cpu, after.memory_mib) == (4, 8192)
    assert sorted((d.name, d.size_bytes) for d in after.disks if not d.is_os_disk) == [
        ("data", 20 * GIB), ("logs", 2 * GIB)]
    state = world.vm(server.unique_id) or {}
    assert sorted(d["lun"] for d in state["disks"]) == [0, 1, 2]
    # Repeating the same change is safe: nothing is added twice.
    assert wait_task(provider, provider.vms.reconfigure(after, change)).status == TaskStatus.SUCCEEDED
    assert len((world.vm(server.unique_id) or {})["disks"]) == 3
    logs = next(d for d in after.disks if d.name == "logs")
    done = wait_task(provider, provider.vms.reconfigure(after, VMChange(remove_disks=(logs.key,))))
    assert done.status == TaskStatus.SUCCEEDED
    assert len((world.vm(server.unique_id) or {})["disks"]) == 2
    assert provider.vms.reconfigure(after, VMChange()).id.startswith("done:")


def test_power_transitions(world: World, provider: SCVMMProvider) -> None:
    s = spec(power=PowerState.OFF)
    server = created(provider, s)

    def power(to: PowerState) -> str:
        ref = provider.vms.set_power(server, to)
        assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
        return str((world.vm(server.unique_id) or {})["status"])

    assert power(PowerState.ON) == "Running"
    assert provider.vms.set_power(server, PowerState.ON).id.startswith("done:")
    assert power(PowerState.SUSPENDED) == "Paused"
    observed = provider.vms.find(s.uid)
    assert observed is not None and observed.power == PowerState.SUSPENDED
    assert power(PowerState.ON) == "Running"
    assert power(PowerState.OFF) == "PowerOff"
    assert provider.vms.set_power(server, PowerState.OFF).id.startswith("done:")


def test_graceful_power_off_asks_the_guest_os(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    ref = provider.vms.set_power(server, PowerState.OFF, graceful=True)
    assert ref.operation == "guest-shutdown"
    assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
    assert (world.vm(server.unique_id) or {})["status"] == "PowerOff"
    assert world.ps(f"(Get-SCJob -ID '{ref.id}').Name").strip() == "Shut down virtual machine"


def test_destroy_running_vm_then_again(world: World, provider: SCVMMProvider) -> None:
    s = spec()
    server = created(provider, s)
    ref = provider.vms.destroy(server)
    assert ref.operation == "destroy"
    assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
    assert world.vms() == []
    assert provider.vms.find(s.uid) is None
    assert provider.vms.destroy(server).id == "done:"


def test_adopt_and_release(world: World, provider: SCVMMProvider) -> None:
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'legacy' -VMHostGroup $hg\n"
        "$vm = New-SCVirtualMachine -Name 'legacy' -VMConfiguration $cfg\n[string]$vm.ID"
    )
    found = provider.vms.find_by_unique_id(vm_id)
    assert found is not None and found.owner_uid is None
    uid = str(uuid.uuid4())
    provider.vms.adopt(found, uid)
    adopted = provider.vms.find(uid)
    assert adopted is not None and adopted.unique_id == vm_id
    provider.vms.release(adopted)
    assert provider.vms.find(uid) is None
    assert (world.vm(vm_id) or {})["custom"] == {}
    # A VM herder created loses its Description mark too, so nothing claims it any more.
    s = spec(name="made")
    made = created(provider, s)
    provider.vms.release(made)
    assert provider.vms.find(s.uid) is None
    provider.vms.release(made)  # again: nothing left to unmark
    wait_task(provider, provider.vms.destroy(made))
    provider.vms.release(made)  # gone: a no-op


def test_busy_twice_then_success_makes_one_vm(world: World, provider: SCVMMProvider) -> None:
    world.admin("POST", "/admin/faults", {"cmdlet": "New-SCVirtualMachine", "error_id": 1600, "times": 2})
    s = spec()
    created(provider, s)
    assert len(world.vms()) == 1
    assert world.admin("GET", "/admin/faults")["cmdlet_errors"] == []


def test_failed_create_job_is_reported_and_destroy_cleans_up(world: World, provider: SCVMMProvider) -> None:
    world.admin("POST", "/admin/faults", {"job_fail": "New-SCVirtualMachine", "error_id": 2912})
    s = spec()
    result = wait_task(provider, provider.vms.create(s))
    assert result.status == TaskStatus.FAILED
    assert result.error is not None and "2912" in result.error
    half = provider.vms.find(s.uid)
    assert half is not None
    # Creating again follows the failed job instead of making a second VM.
    assert wait_task(provider, provider.vms.create(s)).status == TaskStatus.FAILED
    assert wait_task(provider, provider.vms.destroy(half)).status == TaskStatus.SUCCEEDED
    assert world.vms() == []


def test_unknown_job_is_unknown(provider: SCVMMProvider) -> None:
    from herder.providers.types import TaskRef

    assert provider.vms.task(TaskRef(str(uuid.uuid4()), "create")).status == TaskStatus.UNKNOWN


def test_data_disk_names_belong_to_their_vm() -> None:
    from herder.providers.scvmm.observe import disk_name

    assert disk_name("ns.web_herder_data.vhdx", "ns.web") == "data"
    assert disk_name("NS.WEB_herder_logs.VHDX", "ns.web") == "logs"
    # A disk copied from a captured image keeps the captured VM's file name: not this VM's data disk.
    assert disk_name("ns.golden_herder_data.vhdx", "ns.copy") is None
    assert disk_name("ns.web_disk_1.vhdx", "ns.web") is None


def test_a_linux_guest_gets_its_profile(world: World, provider: SCVMMProvider) -> None:
    guest = GuestSetup(hostname="web-1", dns_domain="corp.example", ssh_keys=("ssh-ed25519 AAAAC3 alice",))
    server = created(provider, spec(guest=guest, data_disks=()))
    state = world.vm(server.unique_id)
    assert state is not None
    got = state["guest"]
    assert (got["computer_name"], got["linux_domain_name"], got["linux_administrator_ssh_key"], got["os_type"]) == (
        "web-1", "corp.example", "ssh-ed25519 AAAAC3 alice", "Linux")
    assert (server.hostname, server.guest_os) == ("web-1", "Ubuntu Linux 22.04 (64 bit)")


def test_a_windows_guest_gets_its_profile_and_credentials(world: World, provider: SCVMMProvider) -> None:
    guest = GuestSetup(windows=True, hostname="WIN-01", admin_password="Adm1n'pw", time_zone=110,
                       product_key="AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", organization="Team A", domain="corp.example",
                       domain_join=Login("CORP\\joiner", "J0in!pw"), first_logon=("echo one", "echo 'two'"))
    server = created(provider, spec(template="windows-2022-tmpl", guest=guest, data_disks=()))
    got = (world.vm(server.unique_id) or {})["guest"]
    assert got["computer_name"] == "WIN-01" and got["os_type"] == "Windows"
    assert got["local_administrator"] == {"run_as_account": None, "user": "Administrator", "password": "Adm1n'pw"}
    assert got["domain_join"] == {"run_as_account": None, "user": "CORP\\joiner", "password": "J0in!pw"}
    assert (got["domain"], got["time_zone"], got["product_key"], got["organization_name"]) == (
        "corp.example", 110, "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "Team A")
    assert got["gui_run_once_commands"] == ["echo one", "echo 'two'"]
    assert "workgroup" not in got


@pytest.mark.parametrize(("guest", "words"), [
    (GuestSetup(user_data="#cloud-config"), "cannot pass cloud-init user data"),
    (GuestSetup(windows=True, unattend="<unattend/>"), "answer file in the library"),
    (GuestSetup(ssh_keys=("ssh-rsa A a", "ssh-rsa B b")), "carries one SSH key"),
])
def test_what_the_guest_os_profile_cannot_carry_is_refused(world: World, provider: SCVMMProvider,
                                                          guest: GuestSetup, words: str) -> None:
    with pytest.raises(NotSupported, match=words):
        provider.vms.create(spec(guest=guest))
    assert world.vms() == []  # refused before anything was made


def test_errors_never_repeat_a_secret() -> None:
    from herder.providers.scvmm.driver import redacted

    error = redacted(NotFound("New-SCVirtualMachine: bad value 'Adm1n''pw' near Adm1n'pw"), ("Adm1n'pw",))
    assert isinstance(error, NotFound) and "Adm1n" not in str(error) and str(error).count("***") == 2


def _nics(world: World, vm_id: str) -> list[tuple[str | None, int, str, list[str]]]:
    """(VM network, VLAN, MAC, addresses) of each adapter, from the simulator's state."""
    state = world.admin("GET", "/admin/state")
    names = {n["id"]: n["name"] for n in state["vm_networks"]}
    vm = next(v for v in state["vms"] if v["id"] == vm_id)
    return [(names.get(n.get("vm_network") or ""), n.get("vlan_id", 0), n["mac"], n["ipv4"]) for n in vm["nics"]]


def test_nics_at_creation_static_from_the_pool_or_given(world: World, provider: SCVMMProvider) -> None:
    nics = (NICSpec("Herder-VMNet", static=True, address="10.30.0.18/24", mac="00:1D:D8:B7:1C:AA"),
            NICSpec("Herder-VMNet", static=True), NICSpec("Herder-Backup", vlan=200))
    server = created(provider, spec(networks=nics, data_disks=()))
    assert _nics(world, server.ref) == [("Herder-VMNet", 100, "00:1D:D8:B7:1C:AA", ["10.30.0.18"]),
                                        ("Herder-VMNet", 100, ANY_MAC, ["10.30.0.10"]),
                                        ("Herder-Backup", 200, ANY_MAC, [])]
    assert [(n.network, n.vlan) for n in server.nics] == [("Herder-VMNet", 100), ("Herder-VMNet", 100),
                                                          ("Herder-Backup", 200)]
    assert server.nics[0].mac == "00:1D:D8:B7:1C:AA" and server.nic_hot_plug and not server.mac_hot_change
    assert world.admin("GET", "/admin/state")["configs"] == []  # the configuration was consumed


def test_a_taken_address_or_an_exhausted_pool_makes_nothing(world: World, provider: SCVMMProvider) -> None:
    created(provider, spec(networks=(NICSpec("Herder-VMNet", static=True, address="10.30.0.18/24"),), data_disks=()))
    with pytest.raises(AddressUnavailable, match=r"10\.30\.0\.18"):
        provider.vms.create(spec(name="web-2", networks=(NICSpec("Herder-VMNet", static=True,
                                                                 address="10.30.0.18/24"),)))
    world.ps("$p = Get-SCStaticIPAddressPool -Name 'Herder-Pool'\n"
             "foreach ($i in 10 .. 20) { if ($i -ne 18) { $null = Grant-SCIPAddress -StaticIPAddressPool $p "
             "-GrantToObjectType VirtualMachine -IPAddress ('10.30.0.' + $i) } }")
    with pytest.raises(AddressUnavailable, match="no available IP addresses"):
        provider.vms.create(spec(name="web-3", networks=(NICSpec("Herder-VMNet"), NICSpec("Herder-VMNet",
                                                                                          static=True))))
    state = world.admin("GET", "/admin/state")
    assert [v["name"] for v in state["vms"]] == ["web-1"] and state["configs"] == []
    assert state["nic_job_groups"] == {} or all(not g for g in state["nic_job_groups"].values())


def test_nics_are_added_moved_and_removed_on_a_running_vm(world: World, provider: SCVMMProvider) -> None:
    server = created(provider, spec(networks=(NICSpec("Herder-VMNet"),), data_disks=()))
    assert server.power is PowerState.ON
    first = server.nics[0].key
    change = VMChange(change_nics=((first, NICSpec("Herder-Backup")),),
                      add_nics=(NICSpec("Herder-VMNet", static=True),))
    assert wait_task(provider, provider.vms.reconfigure(server, change)).status is TaskStatus.SUCCEEDED
    assert [n[:2] for n in _nics(world, server.ref)] == [("Herder-Backup", 200), ("Herder-VMNet", 100)]
    assert _nics(world, server.ref)[1][3] == ["10.30.0.10"]
    now = provider.vms.find(server.owner_uid or "")
    assert now is not None
    removed = VMChange(remove_nics=(now.nics[1].key,))
    assert wait_task(provider, provider.vms.reconfigure(now, removed)).status is TaskStatus.SUCCEEDED
    assert [n[:2] for n in _nics(world, server.ref)] == [("Herder-Backup", 200)]
    assert world.admin("GET", "/admin/state")["ip_addresses"] == []  # the removed NIC's address went back
    with pytest.raises(NotSupported, match="chosen address only to the first NIC"):
        provider.vms.reconfigure(now, VMChange(add_nics=(NICSpec("Herder-VMNet", static=True,
                                                                 address="10.30.0.12/24"),)))


def test_locate_reads_the_host_group_a_vm_sits_in(world: World, provider: SCVMMProvider) -> None:
    """What adoption is checked against: the VM's HostGroupPath and host, as VMM placed it."""
    vm_id = world.ps(
        "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
        "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'placed' -VMHostGroup $hg\n"
        "$vm = New-SCVirtualMachine -Name 'placed' -VMConfiguration $cfg\n[string]$vm.ID"
    )
    found = provider.vms.find_by_unique_id(vm_id)
    assert found is not None
    where = provider.vms.locate(found)
    assert (where.host_group, where.host, where.cloud) == ("All Hosts\\Zone-B", "hv-b1.herder.test", None)
    assert where.host_group == (world.vm(vm_id) or {})["host_group"]


def test_address_pools_read_what_a_create_would_take_from(world: World, provider: SCVMMProvider) -> None:
    created(provider, spec(networks=(NICSpec("Herder-VMNet", static=True, address="10.30.0.18/24"),), data_disks=()))
    wanted = (NICSpec("Herder-VMNet", static=True, address="10.30.0.18/24"), NICSpec("Herder-Backup", vlan=200))
    pool, dhcp = provider.vms.address_pools(wanted)
    assert dhcp is None and pool is not None
    assert (pool.name, "10.30.0.18" in pool.granted) == ("Herder-Pool", True)
    assert pool.available == int(world.ps("[int](Get-SCStaticIPAddressPool -Name 'Herder-Pool').AvailableAddresses"))
    assert provider.vms.address_pools((NICSpec("Herder-Backup"),)) == (None,)  # no static NIC: nothing is read
