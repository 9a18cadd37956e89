"""Library templates against the simulator: find, adopt a template or a library disk, capture a VM by cloning it,
import a VHD/VHDX over HTTP with its checksum checked on the library side, delete. What VMM holds afterwards is
read through GET /admin/state and the share's directory, not through herder."""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scvmm_world import World, wait_task

from herder.api.ecs import PowerState
from herder.errors import ImportFailed, NotSupported
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import Operation, SCVMMPlacement, TaskRef, TaskStatus, VMSpec
from herder.reasons import Reason
from herder_dev.scvmm_sim.vmm.diskfile import write_vhd, write_vhdx

GIB = 1 << 30
SHARE = "\\\\vmm01.herder.test\\MSSCVMMLibrary"
ZONE = SCVMMPlacement(host_group="All Hosts\\Zone-A", library_share=SHARE)


class _Slow(SimpleHTTPRequestHandler):
    """Serves a directory, slowly enough for a download's progress to be seen."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def copyfile(self, source: Any, outputfile: Any) -> None:
        while chunk := source.read(256 * 1024):
            outputfile.write(chunk)
            time.sleep(0.05)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Slow, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def share_dir(world: World) -> Path:
    return world.running.sim.store.library_root / "vmm01.herder.test" / "MSSCVMMLibrary"


def library(world: World) -> dict[str, Any]:
    state = world.admin("GET", "/admin/state")
    return {"templates": {t["name"]: t for t in state["templates"]}, "vhds": {v["relative"]: v for v in state["vhds"]}}


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def refresh(world: World) -> None:
    world.ps("$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)")


def test_find_a_seeded_template_by_name_and_id(provider: SCVMMProvider) -> None:
    info = provider.images.find_template("ubuntu-22.04-tmpl")
    assert info is not None
    assert (info.name, info.cpu, info.memory_mib, info.guest_id) == ("ubuntu-22.04-tmpl", 2, 2048,
                                                                      "Ubuntu Linux 22.04 (64 bit)")
    assert provider.images.find_template(info.unique_id) == info
    assert provider.images.find_template("no-such-template") is None
    assert provider.images.find_template(str(uuid.uuid4())) is None


def test_adopt_a_library_disk_gives_it_one_template(world: World, provider: SCVMMProvider) -> None:
    write_vhdx(share_dir(world) / "golden.vhdx", 8 * GIB)
    write_vhd(share_dir(world) / "legacy.vhd", 64 << 20)
    refresh(world)
    uid = str(uuid.uuid4())
    # What herder plan reads first: the disk, by name or library path; reading it makes nothing.
    disk = provider.images.find_disk("golden.vhdx")
    assert disk is not None and (disk.path, disk.size_bytes, disk.is_template) == (
        SHARE + "\\golden.vhdx", 8 * GIB, False)
    assert provider.images.find_disk(SHARE + "\\golden.vhdx") == disk
    assert provider.images.find_disk("nothing.vhdx") is None
    assert not [n for n in library(world)["templates"] if n.startswith("img_")]
    assert provider.images.adopt_template("ubuntu-22.04-tmpl", "img_a.t", uid, "Linux") == \
        provider.images.find_template("ubuntu-22.04-tmpl")  # a template is taken as it is
    assert "img_a.t" not in library(world)["templates"]
    made = provider.images.adopt_template("golden.vhdx", "img_a.golden", uid, "Linux")
    assert made is not None and made.owner_uid == uid
    assert (made.name, made.path, made.size_bytes, made.guest_id) == (
        "img_a.golden", SHARE + "\\golden.vhdx", 8 * GIB, "Other Linux (64 bit)")
    again = provider.images.adopt_template("golden.vhdx", "img_a.golden", uid, "Linux")
    assert again == made  # found by identity, never made twice
    assert [n for n in library(world)["templates"] if n.startswith("img_")] == ["img_a.golden"]
    assert library(world)["templates"]["img_a.golden"]["generation"] == 2
    legacy = provider.images.adopt_template(SHARE + "\\legacy.vhd", "img_a.legacy", str(uuid.uuid4()), "Windows")
    assert legacy is not None and legacy.guest_id == "Windows Server 2022 Datacenter"
    assert library(world)["templates"]["img_a.legacy"]["generation"] == 1  # a VHD boots generation 1 only
    assert provider.images.adopt_template("nothing.vhdx", "img_a.none", str(uuid.uuid4()), "Linux") is None
    # Orphan: herder's template of the disk goes, the disk stays.
    provider.images.release_template(uid)
    held = library(world)
    assert "img_a.golden" not in held["templates"] and "golden.vhdx" in held["vhds"]
    assert (share_dir(world) / "golden.vhdx").exists()


def test_deleting_an_adopted_disk_template_removes_the_disk_too(world: World, provider: SCVMMProvider) -> None:
    write_vhdx(share_dir(world) / "golden.vhdx", GIB)
    refresh(world)
    made = provider.images.adopt_template("golden.vhdx", "img_a.golden", str(uuid.uuid4()), "Linux")
    assert made is not None
    assert provider.images.destroy_template(made.unique_id).finished
    assert library(world)["vhds"] == {} and "img_a.golden" not in library(world)["templates"]
    assert not (share_dir(world) / "golden.vhdx").exists()
    assert provider.images.destroy_template(made.unique_id).finished  # gone: nothing to do


def _stopped_vm(provider: SCVMMProvider) -> Any:
    spec = VMSpec(uid=str(uuid.uuid4()), name="team-a.web", template="ubuntu-22.04-tmpl", cpu=2, memory_mib=2048,
                  placement=ZONE, power=PowerState.OFF)
    assert wait_task(provider, provider.vms.create(spec)).status is TaskStatus.SUCCEEDED
    vm = provider.vms.find(spec.uid)
    assert vm is not None and vm.power is PowerState.OFF
    return spec.uid, vm


def _follow(provider: SCVMMProvider, ref: TaskRef) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result = provider.images.task(ref)
        if result.status is not TaskStatus.RUNNING:
            assert result.status is TaskStatus.SUCCEEDED, result.error
            return
        time.sleep(0.1)
    raise AssertionError(f"{ref} did not end")


def test_capture_clones_the_stopped_vm_then_makes_the_template_of_the_clone(
        world: World, provider: SCVMMProvider) -> None:
    ecs_uid, vm = _stopped_vm(provider)
    image = str(uuid.uuid4())
    clone = provider.images.capture(vm, "img_team-a.web", image, ZONE)
    assert clone.operation is Operation.CAPTURE and not clone.finished
    assert provider.vms.find(ecs_uid) == vm  # the clone is never the ECS's VM, even while it is made
    _follow(provider, clone)
    names = sorted(v["name"] for v in world.vms())
    assert names == ["img_team-a.web", "team-a.web"]
    assert provider.images.find_template(image) is None
    template = provider.images.capture(vm, "img_team-a.web", image, ZONE)  # the next step: the clone's template
    _follow(provider, template)
    info = provider.images.find_template(image)
    assert info is not None and info.owner_uid == image and info.name == "img_team-a.web"
    assert info.path == f"{SHARE}\\herder-{image}\\team-a.web_disk_1.vhdx" and info.size_bytes == 20 * GIB
    assert [v["name"] for v in world.vms()] == ["team-a.web"]  # the clone was consumed, the server kept
    assert world.vm(vm.ref) is not None and provider.vms.find(ecs_uid) is not None
    assert provider.images.capture(vm, "img_team-a.web", image, ZONE).finished  # done: never captured twice
    assert provider.images.destroy_template(info.unique_id).finished
    assert "img_team-a.web" not in library(world)["templates"] and not (share_dir(world) / f"herder-{image}").exists()


def test_capture_of_a_running_vm_is_not_supported(provider: SCVMMProvider) -> None:
    _, vm = _stopped_vm(provider)
    from dataclasses import replace

    with pytest.raises(NotSupported, match="clones only stopped VMs"):
        provider.images.capture(replace(vm, power=PowerState.ON), "img_a.b", str(uuid.uuid4()), ZONE)


def test_a_capture_left_half_way_is_cleaned_up_by_delete(world: World, provider: SCVMMProvider) -> None:
    _, vm = _stopped_vm(provider)
    image = str(uuid.uuid4())
    _follow(provider, provider.images.capture(vm, "img_team-a.web", image, ZONE))  # only the clone
    assert provider.images.destroy_template(image).finished  # no template yet: by the image's identity
    assert [v["name"] for v in world.vms()] == ["team-a.web"]


def test_import_a_vhdx_with_its_checksum_and_progress(world: World, provider: SCVMMProvider,
                                                      web: tuple[str, Path]) -> None:
    url, root = web
    write_vhdx(root / "ubuntu.vhdx", 16 * GIB)
    (root / "ubuntu.vhdx").write_bytes((root / "ubuntu.vhdx").read_bytes() + b"\0" * (3 << 20))  # a slower file
    uid = str(uuid.uuid4())
    seen: list[int] = []
    info = provider.images.import_disk(f"{url}/ubuntu.vhdx", sha256(root / "ubuntu.vhdx"), "img_a.ubuntu", uid,
                                       ZONE, os_family="Linux", progress=lambda p: seen.append(p) or True)
    assert info.owner_uid == uid and info.path == f"{SHARE}\\herder-{uid}\\ubuntu.vhdx"
    assert (info.size_bytes, info.guest_id) == (16 * GIB, "Other Linux (64 bit)")
    assert seen and max(seen) > 0 and seen == sorted(seen), seen
    held = library(world)
    assert held["templates"]["img_a.ubuntu"]["generation"] == 2
    assert (share_dir(world) / f"herder-{uid}" / "ubuntu.vhdx").read_bytes() == (root / "ubuntu.vhdx").read_bytes()
    assert provider.images.import_disk(f"{url}/ubuntu.vhdx", sha256(root / "ubuntu.vhdx"), "img_a.ubuntu", uid,
                                       ZONE, os_family="Linux", progress=lambda p: True) == info  # found again
    provider.images.destroy_template(info.unique_id)
    assert not (share_dir(world) / f"herder-{uid}").exists() and library(world)["vhds"] == {}


def test_import_a_zipped_vhd(world: World, provider: SCVMMProvider, web: tuple[str, Path]) -> None:
    url, root = web
    write_vhd(root / "win.vhd", 64 << 20)
    with zipfile.ZipFile(root / "win.vhd.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(root / "win.vhd", "images/win.vhd")
    by_short_name = SCVMMPlacement(host_group="All Hosts\\Zone-A", library_share="\\\\VMM01\\msscvmmlibrary")
    info = provider.images.import_disk(f"{url}/win.vhd.zip", sha256(root / "win.vhd.zip"), "img_a.win",
                                       str(uuid.uuid4()), by_short_name, os_family="Windows", progress=lambda p: True)
    assert info.path.endswith("\\images\\win.vhd") and info.guest_id == "Windows Server 2022 Datacenter"
    assert library(world)["templates"]["img_a.win"]["generation"] == 1
    assert not list(share_dir(world).rglob("*.zip"))  # the archive is not kept


@pytest.mark.parametrize(("published", "reason"), [
    ("mismatch", Reason.CHECKSUM_MISMATCH), ("missing", Reason.DOWNLOAD_FAILED), ("text", Reason.INVALID_IMAGE),
])
def test_a_failed_import_leaves_nothing_in_the_library(world: World, provider: SCVMMProvider,
                                                       web: tuple[str, Path], published: str, reason: Reason) -> None:
    url, root = web
    write_vhdx(root / "disk.vhdx", GIB)
    (root / "notes.vhdx").write_text("not a disk")
    file = {"mismatch": "disk.vhdx", "missing": "gone.vhdx", "text": "notes.vhdx"}[published]
    checksum = "sha256:" + "0" * 64 if published == "mismatch" else sha256(root / "notes.vhdx")
    before = library(world)
    with pytest.raises(ImportFailed) as failed:
        provider.images.import_disk(f"{url}/{file}", checksum, "img_a.x", str(uuid.uuid4()), ZONE, os_family="Linux",
                                    progress=lambda p: True)
    assert failed.value.reason is reason, failed.value
    assert library(world) == before
    assert list(share_dir(world).iterdir()) == []
    if published == "mismatch":
        assert f"expected sha256:{'0' * 64}" in str(failed.value) and sha256(root / "disk.vhdx") in str(failed.value)
    if published == "missing":
        assert "HTTP 404" in str(failed.value)


def test_a_library_share_that_does_not_exist_is_not_found(provider: SCVMMProvider) -> None:
    from herder.errors import NotFound

    elsewhere = SCVMMPlacement(host_group="All Hosts\\Zone-A", library_share="\\\\lib02.corp\\MSSCVMMLibrary")
    with pytest.raises(NotFound, match=r"lib02\.corp"):
        provider.images.import_disk("http://127.0.0.1:1/a.vhdx", "sha256:" + "0" * 64, "img_a.x", str(uuid.uuid4()),
                                    elsewhere, os_family="Linux", progress=lambda p: True)


def test_ovf_imports_are_for_vcenter(provider: SCVMMProvider) -> None:
    with pytest.raises(NotSupported, match="OVA and OVF images are for vCenter"):
        provider.images.import_ovf("http://127.0.0.1/a.ova", "sha256:" + "0" * 64, "n", "u", ZONE, packaged=True,
                                   progress=lambda p: True)
