"""Images on SCVMM against the stack's simulator: an existing library template or disk, a capture that keeps its
server, a VHDX imported on the library side with its checksum checked there, failures that leave nothing, who may
use an image, and deletion. What VMM holds is read from the simulator's admin state, its library share's
directory and plain WinRM, never through herder."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_world import (
    SCVMM,
    SCVMM_ZONE,
    Backend,
    Govc,
    ScvmmSim,
    apply,
    condition_is,
    get,
    image_failed,
    image_ready,
    ready_message,
    serve_directory,
    status_of,
    stays,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.scvmm_sim.vmm.diskfile import write_vhdx
from herder_dev.stack import StackState

GIB = 1 << 30


@pytest.fixture
def sim(stack: StackState, operator: OperatorProcess) -> ScvmmSim:
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return ScvmmSim(stack)


@pytest.fixture
def scvmm(stack: StackState, sim: ScvmmSim, govc: Govc) -> Backend:
    return Backend("scvmm", stack, govc)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A slow HTTP server (a 16 MiB file takes a few seconds), so an import's progress can be watched."""
    with serve_directory(tmp_path_factory.mktemp("http"), chunk_delay=0.05) as served:
        yield served


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def image(name: str, source: dict[str, Any], kind: str = "Image", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": {"kind": "SCVMM", "name": SCVMM}, "osFamily": "Linux", "source": source}
    body |= spec
    return {"apiVersion": "herder.dev/v1alpha1", "kind": kind, "metadata": {"name": name},
            "spec": {k: v for k, v in body.items() if v is not None}}


def templates(sim: ScvmmSim, prefix: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in sim.state()["templates"] if t["name"].startswith(prefix)}


def library_disks(sim: ScvmmSim) -> dict[str, dict[str, Any]]:
    """The library's disks VMM knows, by their path below the share."""
    return {v["relative"]: v for v in sim.state()["vhds"]}


def publish_disk(root: Path, name: str, size: int = GIB, padding: int = 12 << 20) -> Path:
    """A valid VHDX, made larger (and so slower to serve) by trailing bytes a disk reader ignores."""
    path = root / name
    write_vhdx(path, size)
    with path.open("ab") as fh:
        fh.write(b"\0" * padding)
    return path


def test_existing_library_template_and_disk(stack: StackState, sim: ScvmmSim, scvmm: Backend,
                                            namespace: str) -> None:
    write_vhdx(sim.share_dir / f"{namespace}.vhdx", 8 * GIB)
    sim.run_ps("$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)")
    apply(stack, image("win", {"existing": {"name": "windows-2022-tmpl"}}, osFamily="Windows"),
          image("disk", {"existing": {"path": f"{ScvmmSim.SHARE}\\{namespace}.vhdx"}}),
          image("absent", {"existing": {"name": "no-such.vhdx"}}), namespace=namespace)
    win = image_ready(stack, "image", "win", namespace)
    seeded = next(t for t in sim.state()["templates"] if t["name"] == "windows-2022-tmpl")
    assert (win["uniqueID"], win["cpu"], win["memory"], win["osFamily"]) == (seeded["id"], 2, "4Gi", "Windows")
    assert win["guestID"] == "Windows Server 2022 Datacenter" and win["provider"] == {"kind": "SCVMM", "name": SCVMM}
    disk = image_ready(stack, "image", "disk", namespace)
    made = templates(sim, f"img_{namespace}.disk")[f"img_{namespace}.disk"]
    assert disk["uniqueID"] == made["id"] and disk["path"] == f"{ScvmmSim.SHARE}\\{namespace}.vhdx"
    assert (disk["size"], disk["osFamily"], made["os"]) == ("8Gi", "Linux", "Other Linux (64 bit)")
    assert "no-such.vhdx" in ready_message(image_failed(stack, "image", "absent", namespace, "TemplateNotFound"))

    # A server from the disk: VMM copies the library disk for it.
    apply(stack, scvmm.manifest("from-disk", image={"kind": "Image", "name": "disk"}), namespace=namespace)
    wait_ready(stack, namespace, "from-disk")
    vm = scvmm.vm(namespace, "from-disk")
    assert vm is not None and vm["disks"] == [8 * GIB]

    # Orphan, the default for existing: herder's template of the disk goes, the disk and the seeded template stay.
    stack.kubectl("delete", "image", "disk", "win", "--wait=true", "--timeout=60s", namespace=namespace)
    assert templates(sim, f"img_{namespace}.") == {}
    assert f"{namespace}.vhdx" in library_disks(sim) and (sim.share_dir / f"{namespace}.vhdx").exists()
    assert templates(sim, "windows-2022-tmpl")
    assert condition_is(stack, "ecs", "from-disk", namespace, "Ready", "True")


def test_capture_keeps_the_server_and_an_ecs_clones_the_captured_image(
        stack: StackState, sim: ScvmmSim, scvmm: Backend, namespace: str) -> None:
    apply(stack, scvmm.manifest("golden", disks={"data": [{"name": "data", "size": "2Gi"}]}), namespace=namespace)
    wait_ready(stack, namespace, "golden")
    source = scvmm.vm(namespace, "golden")
    assert source is not None
    apply(stack, image("golden-img", {"fromServer": {"name": "golden", "powerPolicy": "PowerOff"}}, provider=None),
          namespace=namespace)
    status = image_ready(stack, "image", "golden-img", namespace, timeout=90)
    body = get(stack, "image", "golden-img", namespace)
    assert body is not None
    uid = body["metadata"]["uid"]
    name = f"img_{namespace}.golden-img"
    made = templates(sim, name)[name]
    assert status["uniqueID"] == made["id"] and f"herder-image-uid={uid}" in made["description"]
    assert status["path"].startswith(f"{ScvmmSim.SHARE}\\herder-{uid}\\")
    assert status["size"] == "22Gi" and status["source"] == {"type": "fromServer",
                                                              "reference": f"{namespace}/golden"}
    assert sorted(p.name for p in (sim.share_dir / f"herder-{uid}").iterdir()) == [
        f"{namespace}.golden_disk_1.vhdx", f"{namespace}.golden_herder_data.vhdx"]
    # The server is the same VM as before, running again; the clone VMM generalized is gone.
    wait_ready(stack, namespace, "golden", timeout=30)
    after = scvmm.vm(namespace, "golden")
    assert after is not None and (after["id"], after["power"]) == (source["id"], "On")
    assert scvmm.names(namespace) == [f"{namespace}.golden"] and not [v for v in sim.state()["vms"]
                                                                       if v["name"] == name]

    apply(stack, scvmm.manifest("copy", image={"kind": "Image", "name": "golden-img"}), namespace=namespace)
    wait_ready(stack, namespace, "copy")
    copy = scvmm.vm(namespace, "copy")
    assert copy is not None and sorted(copy["disks"]) == [2 * GIB, 20 * GIB]

    # Delete (the default for a capture): the template and its library files go, the servers stay.
    stack.kubectl("delete", "image", "golden-img", "--wait=true", "--timeout=60s", namespace=namespace)
    assert templates(sim, name) == {} and not (sim.share_dir / f"herder-{uid}").exists()
    assert not [v for v in library_disks(sim) if v.startswith(f"herder-{uid}")]
    assert scvmm.names(namespace) == [f"{namespace}.copy", f"{namespace}.golden"]
    assert condition_is(stack, "ecs", "copy", namespace, "Ready", "True")


def test_a_live_capture_through_an_scvmm_zone_is_not_supported(stack: StackState, sim: ScvmmSim, scvmm: Backend,
                                                               namespace: str) -> None:
    apply(stack, scvmm.manifest("web"), namespace=namespace)
    wait_ready(stack, namespace, "web")
    apply(stack, image("live", {"fromServer": {"name": "web", "powerPolicy": "Live"}}, provider=None),
          namespace=namespace)
    failed = image_failed(stack, "image", "live", namespace, "NotSupported")
    assert "VMM clones only stopped VMs" in ready_message(failed)
    stays(lambda: (scvmm.vm(namespace, "web") or {}).get("power") == "On", 3, what="the server keeps running")


def test_import_a_vhdx_with_its_checksum_then_clone_it(stack: StackState, sim: ScvmmSim, scvmm: Backend,
                                                       namespace: str, files: tuple[str, Path]) -> None:
    base, root = files
    disk = publish_disk(root, f"{namespace}.vhdx", 4 * GIB)
    url = f"{base}/{namespace}.vhdx"
    apply(stack, image("ubuntu", {"url": {"url": url, "checksum": sha256(disk)}}, provider=None,
                       availabilityZone=SCVMM_ZONE), namespace=namespace)
    # While it downloads, status says how far it is.
    importing = wait_for(lambda: (s := status_of(stack, "image", "ubuntu", namespace)).get("phase") == "Importing"
                         and s, timeout=30, interval=0.2, what="phase Importing")
    assert importing["pendingTask"]["operation"] == "import" and 0 <= importing["progress"] <= 99
    assert url in ready_message(importing)
    status = image_ready(stack, "image", "ubuntu", namespace, timeout=90)
    uid = get(stack, "image", "ubuntu", namespace)["metadata"]["uid"]  # type: ignore[index]
    name = f"img_{namespace}.ubuntu"
    assert status["uniqueID"] == templates(sim, name)[name]["id"] and status["size"] == "4Gi"
    assert status["source"] == {"type": "url", "reference": url, "checksum": sha256(disk)}
    assert "progress" not in status and "pendingTask" not in status
    # An independent look: the file in the share is the one published, and VMM checks it the same way.
    assert (sim.share_dir / f"herder-{uid}" / f"{namespace}.vhdx").read_bytes() == disk.read_bytes()
    hashed = sim.run_ps(f"(Get-FileHash -LiteralPath '{ScvmmSim.SHARE}\\herder-{uid}\\{namespace}.vhdx').Hash")
    assert "sha256:" + hashed.strip().lower() == sha256(disk)
    assert templates(sim, name)[name]["generation"] == 2

    apply(stack, scvmm.manifest("from-url", image={"kind": "Image", "name": "ubuntu"}), namespace=namespace)
    wait_ready(stack, namespace, "from-url")
    vm = scvmm.vm(namespace, "from-url")
    assert vm is not None and vm["disks"] == [4 * GIB]


def test_import_a_zipped_disk(stack: StackState, sim: ScvmmSim, namespace: str, files: tuple[str, Path]) -> None:
    base, root = files
    disk = publish_disk(root, f"{namespace}-z.vhdx", 2 * GIB, padding=0)
    with zipfile.ZipFile(root / f"{namespace}.vhdx.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(disk, disk.name)
    archive = root / f"{namespace}.vhdx.zip"
    apply(stack, image("zipped", {"url": {"url": f"{base}/{archive.name}", "checksum": sha256(archive)}}),
          namespace=namespace)
    status = image_ready(stack, "image", "zipped", namespace, timeout=90)
    assert status["path"].endswith(f"\\{disk.name}") and status["size"] == "2Gi"
    assert not list(sim.share_dir.rglob("*.zip"))


@pytest.mark.parametrize("case", ["checksum", "http-404", "not-a-disk"])
def test_import_failures_are_clear_and_leave_nothing(stack: StackState, sim: ScvmmSim, namespace: str,
                                                     files: tuple[str, Path], case: str) -> None:
    base, root = files
    good = publish_disk(root, f"{namespace}-good.vhdx", padding=0)
    (root / f"{namespace}-notes.vhdx").write_text("these are notes, not a disk\n" * 50)
    url, checksum, reason = {
        "checksum": (f"{base}/{good.name}", "sha256:" + "0" * 64, "ChecksumMismatch"),
        "http-404": (f"{base}/{namespace}-absent.vhdx", sha256(good), "DownloadFailed"),
        "not-a-disk": (f"{base}/{namespace}-notes.vhdx", sha256(root / f"{namespace}-notes.vhdx"), "InvalidImage"),
    }[case]
    apply(stack, image("bad", {"url": {"url": url, "checksum": checksum}}), namespace=namespace)
    failed = image_failed(stack, "image", "bad", namespace, reason, timeout=60)
    message = ready_message(failed)
    assert url in message and failed.get("phase") == "Failed"
    if case == "checksum":
        assert sha256(good) in message and "0" * 64 in message
    if case == "http-404":
        assert "HTTP 404" in message
    # Nothing in the library: no template, no disk, no file. (Of this image's only: other tests' images may be
    # coming and going in the share meanwhile.)
    uid = stack.kubectl("get", "image", "bad", "-o", "jsonpath={.metadata.uid}", namespace=namespace).stdout
    assert uid and templates(sim, f"img_{namespace}.") == {}
    assert not (sim.share_dir / f"herder-{uid}").exists()
    assert not [path for path in library_disks(sim) if uid in path]
    # Final for this generation: not retried.
    count = sim.run_ps("@(Get-SCJob -All).Count").strip()
    stays(lambda: sim.run_ps("@(Get-SCJob -All).Count").strip() == count, 3, what="no retry")


def test_private_and_public_images_on_scvmm(stack: StackState, sim: ScvmmSim, scvmm: Backend,
                                            namespace: str) -> None:
    other = f"{namespace[:50]}-other"
    stack.kubectl("create", "namespace", other)
    apply(stack, image("private", {"existing": {"name": "ubuntu-22.04-tmpl"}}), namespace=other)
    image_ready(stack, "image", "private", other)
    apply(stack, scvmm.manifest("thief", image={"kind": "Image", "name": "private"}), namespace=namespace)
    wait_for(lambda: condition_is(stack, "ecs", "thief", namespace, "Provisioned", "False", "ImageNotFound"),
             timeout=30, what="ImageNotFound")
    restricted = f"{namespace[:40]}-vmm"
    apply(stack, image(restricted, {"existing": {"name": "ubuntu-22.04-tmpl"}}, kind="ClusterImage",
                       namespaceSelector={"matchLabels": {"team": "green"}}))
    try:
        apply(stack, scvmm.manifest("outsider", image={"kind": "ClusterImage", "name": restricted}),
              namespace=namespace)
        wait_for(lambda: condition_is(stack, "ecs", "outsider", namespace, "Provisioned", "False",
                                      "ImageNotAllowed"), timeout=30, what="ImageNotAllowed")
        stays(lambda: scvmm.names(namespace) == [], 2, what="no VM made")
        stack.kubectl("label", "namespace", namespace, "team=green")
        wait_ready(stack, namespace, "outsider")
    finally:
        stack.kubectl("delete", "clusterimage", restricted, "--wait=true", "--timeout=60s")
