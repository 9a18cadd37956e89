"""VM lifecycle against vcsim, with govc as the witness."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from vcsim_world import TEMPLATE, Vcsim

from herder.errors import Conflict
from herder.providers.types import (
    DataDisk,
    GuestSetup,
    Login,
    ObservedVM,
    PowerState,
    TaskRef,
    TaskResult,
    TaskStatus,
    VCenterPlacement,
    VMChange,
    VMSpec,
)
from herder.providers.vcenter import VCenterProvider

GIB = 1024**3
PLACEMENT = VCenterPlacement(cluster="DC0_C0", datastore="LocalDS_0", network="VM Network")


def _spec(name: str, **overrides: object) -> VMSpec:
    fields: dict[str, object] = {
        "uid": str(uuid.uuid4()),
        "name": name,
        "template": f"/DC0/vm/{TEMPLATE}",
        "cpu": 2,
        "memory_mib": 2048,
        "placement": PLACEMENT,
        "os_disk_bytes": 20 * GIB,
        "data_disks": (DataDisk("data", 5 * GIB),),
        "guest": GuestSetup(hostname=name, user_data="#cloud-config\n"),
    }
    fields.update(overrides)
    return VMSpec(**fields)  # type: ignore[arg-type]


def _finish(provider: VCenterProvider, ref: TaskRef) -> TaskResult:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = provider.vms.task(ref)
        if result.status != TaskStatus.RUNNING:
            return result
        time.sleep(0.1)
    raise AssertionError(f"task {ref} did not finish")


def _wait(provider: VCenterProvider, ref: TaskRef) -> str | None:
    result = _finish(provider, ref)
    assert result.status == TaskStatus.SUCCEEDED, result.error
    return result.result_ref


def _create(provider: VCenterProvider, spec: VMSpec) -> ObservedVM:
    ref = _wait(provider, provider.vms.create(spec))
    assert ref is not None
    server = provider.vms.find(spec.uid)
    assert server is not None
    assert server.ref == ref
    return server


def _disks(vcsim: Vcsim, name: str) -> dict[int, int]:
    """{device key: capacity in bytes} of the VM's disks, as govc sees them."""
    devices = vcsim.vm_info(name)["config"]["hardware"]["device"]
    return {d["key"]: d["capacityInBytes"] for d in devices if "capacityInBytes" in d}


def test_clone_find_and_govc_agree(provider: VCenterProvider, vcsim: Vcsim) -> None:
    spec = _spec("clone-a")
    server = _create(provider, spec)
    info = vcsim.vm_info("clone-a")
    assert info["config"]["instanceUuid"] == spec.uid
    assert info["config"]["hardware"]["numCPU"] == 2
    assert info["config"]["hardware"]["memoryMB"] == 2048
    assert info["runtime"]["powerState"] == "poweredOn"
    # The OS disk keeps the template's size here; the planner grows it with a reconfigure.
    assert sorted(_disks(vcsim, "clone-a").values()) == [5 * GIB, 10 * GIB]
    extra = {o["key"]: o["value"] for o in info["config"]["extraConfig"]}
    assert extra["guestinfo.userdata.encoding"] == "base64"
    assert server.unique_id == spec.uid
    assert (server.cpu, server.memory_mib, server.power) == (2, 2048, PowerState.ON)
    named = {d.name: d.size_bytes for d in server.disks if d.name}
    assert named == {"data": 5 * GIB}
    assert [d.size_bytes for d in server.disks if d.is_os_disk] == [10 * GIB]
    # The clone has its own disk files: destroying it later must not touch the template's.
    os_file = next(d["backing"]["fileName"] for d in info["config"]["hardware"]["device"]
                   if d.get("capacityInBytes") == 10 * GIB)
    assert os_file.startswith("[LocalDS_0] clone-a/")
    assert provider.vms.find_by_unique_id(spec.uid) == server
    assert provider.vms.find(spec.uid, known_ref=server.ref) == server
    # The clone's LinuxPrep ran at its first boot: the guest reports the host name it was given.
    assert info["guest"]["hostName"] == "clone-a" and server.hostname == "clone-a"


def test_a_windows_clone_is_customized_with_sysprep(provider: VCenterProvider, vcsim: Vcsim) -> None:
    guest = GuestSetup(windows=True, hostname="win-clone-b-long-name", admin_password="Adm1n!pw", time_zone=110,
                       domain="corp.example", domain_join=Login("joiner", "J0in!pw"))
    server = _create(provider, _spec("win-b", guest=guest, data_disks=()))
    info = vcsim.vm_info("win-b")
    assert info["guest"]["hostName"] == "win-clone-b-long-name"  # vcsim reports the name as given
    assert server.hostname == "win-clone-b-long-name"
    assert not [o for o in info["config"]["extraConfig"] if o["key"].startswith("guestinfo.")]
    events = vcsim.govc("events", "/DC0/vm/win-b")
    assert "Customization of VM win-b succeeded" in events, events


def test_find_unknown_is_none(provider: VCenterProvider) -> None:
    assert provider.vms.find(str(uuid.uuid4())) is None
    assert provider.vms.find(str(uuid.uuid4()), known_ref="vm-999999") is None


def test_duplicate_create_resolves_to_the_same_vm(provider: VCenterProvider, vcsim: Vcsim) -> None:
    spec = _spec("clone-dup", data_disks=())
    first = _create(provider, spec)
    # The create does not look the name up first: the clone's DuplicateName says the outcome is Unknown (the
    # sync plans from what it finds), and the next create of that name finds the VM this ECS already has.
    again = provider.vms.create(spec)
    assert _finish(provider, again).status is TaskStatus.UNKNOWN
    third = provider.vms.create(spec)
    assert _wait(provider, third) == first.ref
    assert vcsim.govc("find", "/DC0/vm", "-type", "m", "-name", "clone-dup").split() == ["/DC0/vm/clone-dup"]
    with pytest.raises(Conflict):
        provider.vms.create(_spec("clone-dup"))


def test_reconfigure(provider: VCenterProvider, vcsim: Vcsim) -> None:
    server = _create(provider, _spec("clone-reconf"))
    data = next(d for d in server.disks if d.name == "data")
    os_disk = next(d for d in server.disks if d.is_os_disk)
    change = VMChange(
        cpu=4,
        memory_mib=4096,
        grow_disks=((os_disk.key, 30 * GIB),),
        add_disks=(DataDisk("logs", 3 * GIB),),
        remove_disks=(data.key,),
    )
    _wait(provider, provider.vms.reconfigure(server, change))
    info = vcsim.vm_info("clone-reconf")
    assert (info["config"]["hardware"]["numCPU"], info["config"]["hardware"]["memoryMB"]) == (4, 4096)
    disks = _disks(vcsim, "clone-reconf")
    assert len(disks) == 2  # vcsim may reuse the removed disk's key, so count instead
    assert sorted(disks.values()) == [3 * GIB, 30 * GIB]
    after = provider.vms.find(server.unique_id)
    assert after is not None
    assert {d.name: d.size_bytes for d in after.disks} == {None: 30 * GIB, "logs": 3 * GIB}


def test_power_transitions(provider: VCenterProvider, vcsim: Vcsim) -> None:
    server = _create(provider, _spec("clone-power", power=PowerState.OFF, data_disks=()))
    assert vcsim.vm_info("clone-power")["runtime"]["powerState"] == "poweredOff"
    for power, expected in (
        (PowerState.ON, "poweredOn"),
        (PowerState.SUSPENDED, "suspended"),
        (PowerState.OFF, "poweredOff"),
    ):
        _wait(provider, provider.vms.set_power(server, power))
        assert vcsim.vm_info("clone-power")["runtime"]["powerState"] == expected
    again = provider.vms.set_power(server, PowerState.OFF)
    assert again.id.startswith("done:")


def test_graceful_power_off_shuts_the_guest_down_and_is_followed_by_power_state(provider: VCenterProvider,
                                                                                vcsim: Vcsim) -> None:
    server = _create(provider, _spec("clone-shutdown", data_disks=()))
    ref = provider.vms.set_power(server, PowerState.OFF, graceful=True)
    assert ref.operation == "guest-shutdown"
    assert _wait(provider, ref) == server.ref
    assert vcsim.vm_info("clone-shutdown")["runtime"]["powerState"] == "poweredOff"
    assert "Guest OS shut down for clone-shutdown" in vcsim.govc("events", "/DC0/vm/clone-shutdown")
    # Nothing left to shut down: a plain no-op, not a second ShutdownGuest (which vCenter would refuse).
    assert provider.vms.set_power(server, PowerState.OFF, graceful=True).id.startswith("done:")
    _wait(provider, provider.vms.destroy(server))
    assert provider.vms.task(ref).status is TaskStatus.UNKNOWN  # the VM is gone: nothing to follow


def test_destroy_and_destroy_again(provider: VCenterProvider, vcsim: Vcsim) -> None:
    server = _create(provider, _spec("clone-gone"))
    _wait(provider, provider.vms.destroy(server))
    assert vcsim.vm_info("clone-gone") is None
    assert provider.vms.find(server.unique_id) is None
    repeat = provider.vms.destroy(server)
    assert provider.vms.task(repeat).status == TaskStatus.SUCCEEDED


def test_unknown_task_is_unknown(provider: VCenterProvider) -> None:
    assert provider.vms.task(TaskRef(id="task-999999", operation="create")).status == TaskStatus.UNKNOWN


def test_adopt_and_release(provider: VCenterProvider, vcsim: Vcsim) -> None:
    vcsim.govc(
        "vm.create",
        "-on=false",
        "-c",
        "1",
        "-m",
        "512",
        "-net",
        "VM Network",
        "-pool",
        "/DC0/host/DC0_C0/Resources",
        "-ds",
        "LocalDS_0",
        "legacy",
    )
    legacy_uuid = vcsim.vm_info("legacy")["config"]["instanceUuid"]
    server = provider.vms.find_by_unique_id(legacy_uuid)
    assert server is not None
    owner = str(uuid.uuid4())
    provider.vms.adopt(server, owner)
    assert owner in vcsim.govc("fields.info", "-n", "herder.dev/ecs-uid", "/DC0/vm/legacy")
    found = provider.vms.find(owner)
    assert found is not None
    assert (found.unique_id, found.owner_uid) == (legacy_uuid, owner)
    provider.vms.release(found)
    assert owner not in vcsim.govc("fields.info", "-n", "herder.dev/ecs-uid", "/DC0/vm/legacy")
    assert provider.vms.find(owner) is None


def test_locate_reads_the_folder_and_cluster_a_vm_sits_in(provider: VCenterProvider, vcsim: Vcsim) -> None:
    """What adoption is checked against, as govc placed the VM."""
    vcsim.govc("folder.create", "/DC0/vm/tenants")
    vcsim.govc("folder.create", "/DC0/vm/tenants/b")
    vcsim.govc("vm.create", "-on=false", "-c", "1", "-m", "512", "-net", "VM Network", "-pool",
               "/DC0/host/DC0_C0/Resources", "-ds", "LocalDS_0", "-folder", "/DC0/vm/tenants/b", "placed")
    server = provider.vms.find_by_unique_id(vcsim.vm_info("placed")["config"]["instanceUuid"])
    assert server is not None
    where = provider.vms.locate(server)
    host = vcsim.govc("ls", "-L", "HostSystem:" + vcsim.vm_info("placed")["runtime"]["host"]["value"]).strip()
    assert (where.folder, where.vm_root, where.compute) == ("/DC0/vm/tenants/b", "/DC0/vm", "DC0_C0")
    assert where.host == host.rsplit("/", 1)[-1]


def test_creates_at_once_resolve_the_placement_and_template_once(provider: VCenterProvider) -> None:
    """The first creates of a pass pool arrive together: one of them looks the zone's placement and the template
    up, the others wait for what it found instead of each asking vCenter again."""
    specs = [_spec(f"burst-{i}", template=TEMPLATE, data_disks=()) for i in range(6)]
    with ThreadPoolExecutor(len(specs)) as pool:
        refs = list(pool.map(provider.vms.create, specs))
    for ref in refs:
        _wait(provider, ref)
    # One listing for the placement (its network by name), one for the template by its bare name: not one per create.
    assert provider.endpoint.request_counts().get("CreateContainerView") == 2
    for spec in specs:
        server = provider.vms.find(spec.uid)
        assert server is not None
        _wait(provider, provider.vms.destroy(server))
