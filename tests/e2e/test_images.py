"""Images on vCenter against vcsim: capture, OVA import (streamed from a local HTTP server), failures,
visibility between namespaces, deletion, and the frequently-used label. Every result is read with govc."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from e2e_world import (
    SCVMM_ZONE,
    VCENTER,
    Govc,
    ScvmmSim,
    apply,
    condition_is,
    ecs_manifest,
    get,
    image_failed,
    image_ready,
    ready_message,
    stays,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:href="disk1.vmdk" ovf:id="file1" ovf:size="{size}"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="tiny">
    <Info>A tiny VM</Info><Name>tiny</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest"><Info>OS</Info></OperatingSystemSection>
    <VirtualHardwareSection><Info>hardware</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>tiny</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>1 vCPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>128MB</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>128</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>scsi0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk0</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def make_ovf(disk_bytes: int = 256 * 1024) -> tuple[bytes, bytes]:
    """(descriptor, disk). vcsim's NFC accepts any bytes for the disk."""
    disk = b"KDMV" + bytes(disk_bytes - 4)
    return OVF.format(size=len(disk)).encode(), disk


def make_ova(disk_bytes: int = 256 * 1024) -> bytes:
    """An OVA (tar: descriptor first, then the disk)."""
    descriptor, disk = make_ovf(disk_bytes)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("tiny.ovf", descriptor), ("disk1.vmdk", disk)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(name: str, source: dict[str, Any], kind: str = "Image", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": {"kind": "VCenter", "name": VCENTER}, "osFamily": "Linux",
                            "source": source} | spec
    return {"apiVersion": "herder.dev/v1alpha1", "kind": kind, "metadata": {"name": name},
            "spec": {k: v for k, v in body.items() if v is not None}}


def templates(govc: Govc, prefix: str) -> list[str]:
    """VMs and templates whose name starts with `prefix`."""
    return govc.vms(prefix)


def test_existing_image_reports_the_template(stack: StackState, operator: OperatorProcess, govc: Govc,
                                             namespace: str) -> None:
    apply(stack, image_manifest("base", {"existing": {"name": "ubuntu-22.04-tmpl"}}, frequentlyUsed=True),
          image_manifest("missing", {"existing": {"name": "no-such-template"}}), namespace=namespace)
    status = image_ready(stack, "image", "base", namespace)
    vm = govc.vm("ubuntu-22.04-tmpl")
    assert vm is not None
    assert status["uniqueID"] == vm["config"]["instanceUuid"]
    assert status["managedObjectID"] == vm["self"]["value"]
    assert status["path"] == "/DC0/vm/ubuntu-22.04-tmpl"
    assert status["cpu"] == vm["config"]["hardware"]["numCPU"]
    assert status["phase"] == "Available"
    assert status["provider"] == {"kind": "VCenter", "name": VCENTER}
    assert status["source"] == {"type": "existing", "reference": "ubuntu-22.04-tmpl"}
    assert status["guestID"] == vm["config"]["guestId"] and status["osFamily"] == "Linux"
    failed = image_failed(stack, "image", "missing", namespace, "TemplateNotFound")
    assert "no-such-template" in ready_message(failed)

    # frequentlyUsed is mirrored to a label, so label selectors find the image.
    def selected(value: str) -> list[str]:
        out = stack.kubectl("get", "images", "-l", f"herder.dev/frequently-used={value}", "-o", "name",
                            namespace=namespace).stdout.split()
        return sorted(line.rsplit("/", 1)[-1] for line in out)

    wait_for(lambda: selected("true") == ["base"] and selected("false") == ["missing"], timeout=30,
             what="frequently-used labels mirrored")
    stack.kubectl("patch", "image", "base", "--type=merge", "-p", '{"spec": {"frequentlyUsed": false}}',
                  namespace=namespace)
    wait_for(lambda: selected("true") == [] and selected("false") == ["base", "missing"], timeout=30,
             what="label follows spec.frequentlyUsed")


def test_capture_a_server_and_clone_from_the_captured_image(stack: StackState, operator: OperatorProcess,
                                                            govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("golden", disks={"data": [{"name": "data", "size": "1Gi"}]}), namespace=namespace)
    wait_ready(stack, namespace, "golden")
    apply(stack, image_manifest("golden-img", {"fromServer": {"name": "golden", "powerPolicy": "Live"}},
                                provider=None, frequentlyUsed=True), namespace=namespace)
    status = image_ready(stack, "image", "golden-img", namespace)
    body = get(stack, "image", "golden-img", namespace)
    assert body is not None
    name = f"img_{namespace}.golden-img"
    vm = govc.vm(name)
    assert vm is not None, "govc does not see the captured template"
    assert vm["config"]["template"] is True
    assert vm["config"]["instanceUuid"] == body["metadata"]["uid"] == status["uniqueID"]
    assert status["path"] == f"/DC0/vm/{name}"
    assert "pendingTask" not in status
    # The source keeps running and stays managed.
    source = govc.vm(f"{namespace}.golden")
    assert source is not None and source["runtime"]["powerState"] == "poweredOn"
    wait_ready(stack, namespace, "golden")

    apply(stack, ecs_manifest("copy", image={"kind": "Image", "name": "golden-img"}), namespace=namespace)
    wait_ready(stack, namespace, "copy")
    copy = govc.vm(f"{namespace}.copy")
    assert copy is not None and copy["runtime"]["powerState"] == "poweredOn"
    # The copy carries the captured data disk.
    assert len(Govc.disks(copy)) == 2

    # Deleting the image (default policy Delete for a capture) removes the template, not the ECSs.
    stack.kubectl("delete", "image", "golden-img", "--wait=true", "--timeout=60s", namespace=namespace)
    wait_for(lambda: govc.vm(name) is None, timeout=30, what="govc: captured template deleted")
    stays(lambda: govc.vm(f"{namespace}.copy") is not None and govc.vm(f"{namespace}.golden") is not None, 3,
          what="ECS VMs untouched")
    assert condition_is(stack, "ecs", "copy", namespace, "Ready", "True")


def stopped_for_capture_events(stack: StackState, namespace: str, ecs: str) -> list[str]:
    """The messages of the ECS's Events saying it was stopped for a capture."""
    events = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    return [e.get("message") or "" for e in events
            if e.get("reason") == "StoppedForCapture" and e.get("involvedObject", {}).get("name") == ecs]


def test_consistent_captures_stop_the_server_as_the_policy_says_then_restore_it(
        stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("src"), namespace=namespace)
    wait_ready(stack, namespace, "src")
    source = f"/DC0/vm/{namespace}.src"
    cluster_image = f"cap-{namespace}"
    try:
        for kind, name, policy, stop_event in (
                ("image", "img", "GuestShutdown", "Guest OS shut down for"),
                ("clusterimage", cluster_image, "PowerOff", "is powered off")):
            before = govc("events", "-n", "200", source).stdout
            scoped = {"namespace": namespace} if kind == "clusterimage" else {}
            manifest = image_manifest(name, {"fromServer": {"name": "src", "powerPolicy": policy} | scoped},
                                      kind="ClusterImage" if kind == "clusterimage" else "Image", provider=None)
            apply(stack, manifest, namespace=namespace if kind == "image" else None)
            status = image_ready(stack, kind, name, namespace if kind == "image" else None, timeout=90)
            # The ECS controller stopped the VM for this image and said so on the ECS (an Event: the state
            # itself may last less than a poll).
            holder = f"Image/{namespace}/{name}" if kind == "image" else f"ClusterImage/{name}"
            assert any(holder in m for m in stopped_for_capture_events(stack, namespace, "src")), holder
            template = govc.vm(status["path"].rsplit("/", 1)[-1])
            assert template is not None and template["config"]["template"] is True
            # Then the hold is gone and the server runs again, as its spec says.
            wait_ready(stack, namespace, "src", timeout=30)
            vm = govc.vm(f"{namespace}.src")
            assert vm is not None and vm["runtime"]["powerState"] == "poweredOn"
            ecs = get(stack, "ecs", "src", namespace)
            assert ecs is not None and "herder.dev/stopped-for-capture" not in ecs["metadata"].get("annotations", {})
            # govc's event log tells how it was stopped.
            events = govc("events", "-n", "200", source).stdout
            assert events.count(stop_event) == before.count(stop_event) + 1, events
            if policy == "PowerOff":
                assert events.count("Guest OS shut down for") == before.count("Guest OS shut down for")
        # A hold left by an image that is gone does not stop the server.
        gone = f"PowerOff:Image/{namespace}/gone:4211e7d5-0000-4000-8000-000000000000"
        stack.kubectl("annotate", "ecs", "src", f"herder.dev/stopped-for-capture={gone}", namespace=namespace)
        stays(lambda: (govc.vm(f"{namespace}.src") or {}).get("runtime", {}).get("powerState") == "poweredOn", 3,
              what="govc: the server keeps running")
        assert condition_is(stack, "ecs", "src", namespace, "Ready", "True")
    finally:
        stack.kubectl("delete", "clusterimage", cluster_image, "--ignore-not-found", "--wait=true", "--timeout=60s")


def test_a_failed_consistent_capture_gives_the_server_back_and_waits_before_stopping_it_again(
        stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("src"), namespace=namespace)
    wait_ready(stack, namespace, "src")
    # The template's name is taken by somebody else's VM: the clone cannot be made.
    govc("vm.clone", "-vm", "ubuntu-22.04-tmpl", "-on=false", "-folder", "vm", "-ds", "LocalDS_0",
         "-pool", "/DC0/host/DC0_C0/Resources", f"img_{namespace}.img")
    apply(stack, image_manifest("img", {"fromServer": {"name": "src", "powerPolicy": "PowerOff"}}, provider=None),
          namespace=namespace)
    failed = image_failed(stack, "image", "img", namespace, "CaptureFailed", timeout=60)
    assert any(f"Image/{namespace}/img" in m for m in stopped_for_capture_events(stack, namespace, "src"))
    assert "already exists" in ready_message(failed) and "runs again" in ready_message(failed)
    # Given back at once, and not stopped again by the retries that follow.
    wait_ready(stack, namespace, "src", timeout=30)
    stays(lambda: (govc.vm(f"{namespace}.src") or {}).get("runtime", {}).get("powerState") == "poweredOn", 6,
          what="govc: the server keeps running between retries")
    ecs = get(stack, "ecs", "src", namespace)
    assert ecs is not None and "herder.dev/stopped-for-capture" not in ecs["metadata"].get("annotations", {})
    assert govc("events", "-n", "200", f"/DC0/vm/{namespace}.src").stdout.count("is powered off") == 1


def test_import_an_ova_and_clone_from_it(stack: StackState, operator: OperatorProcess, govc: Govc,
                                         namespace: str, files: tuple[str, Path]) -> None:
    base, root = files
    ova = make_ova()
    (root / "tiny.ova").write_bytes(ova)
    apply(stack, image_manifest("tiny", {"url": {"url": f"{base}/tiny.ova", "checksum": sha256(ova)}},
                                provider=None, availabilityZone="dc0-c0"), namespace=namespace)
    status = image_ready(stack, "image", "tiny", namespace, timeout=90)
    name = f"img_{namespace}.tiny"
    vm = govc.vm(name)
    assert vm is not None and vm["config"]["template"] is True
    assert status["uniqueID"] == vm["config"]["instanceUuid"]
    assert status["cpu"] == 1 and status["memory"] == "128Mi"
    assert "progress" not in status and "pendingTask" not in status

    apply(stack, ecs_manifest("from-ova", image={"kind": "Image", "name": "tiny"}), namespace=namespace)
    wait_ready(stack, namespace, "from-ova")
    assert govc.vm(f"{namespace}.from-ova") is not None


def publish_ovf(root: Path, folder: str, *, manifest_disk: bytes | None = None, with_disk: bool = True) -> bytes:
    """tiny.ovf, disk1.vmdk and the SHA-256 manifest tiny.mf in `root/folder`; returns the descriptor.
    `manifest_disk`: the disk the manifest vouches for (default: the published one)."""
    descriptor, disk = make_ovf()
    where = root / folder
    where.mkdir()
    (where / "tiny.ovf").write_bytes(descriptor)
    if with_disk:
        (where / "disk1.vmdk").write_bytes(disk)
    vouched = disk if manifest_disk is None else manifest_disk
    (where / "tiny.mf").write_text(f"SHA256(tiny.ovf)= {hashlib.sha256(descriptor).hexdigest()}\n"
                                   f"SHA256(disk1.vmdk)= {hashlib.sha256(vouched).hexdigest()}\n")
    return descriptor


def test_import_an_ovf_with_its_files_beside_it(stack: StackState, operator: OperatorProcess, govc: Govc,
                                               namespace: str, files: tuple[str, Path]) -> None:
    base, root = files
    descriptor = publish_ovf(root, f"ovf-{namespace}")
    url = f"{base}/ovf-{namespace}/tiny.ovf"
    apply(stack, image_manifest("tiny-ovf", {"url": {"url": url, "checksum": sha256(descriptor)}},
                                provider=None, availabilityZone="dc0-c0"), namespace=namespace)
    status = image_ready(stack, "image", "tiny-ovf", namespace, timeout=90)
    vm = govc.vm(f"img_{namespace}.tiny-ovf")
    assert vm is not None and vm["config"]["template"] is True
    assert status["uniqueID"] == vm["config"]["instanceUuid"]
    assert status["source"] == {"type": "url", "reference": url, "checksum": sha256(descriptor)}
    assert status["osFamily"] == "Linux" and status["guestID"] == "otherLinux64Guest" and status["cpu"] == 1

    apply(stack, ecs_manifest("from-ovf", image={"kind": "Image", "name": "tiny-ovf"}), namespace=namespace)
    wait_ready(stack, namespace, "from-ovf")
    assert govc.vm(f"{namespace}.from-ovf") is not None


@pytest.mark.parametrize("case", ["descriptor-checksum", "manifest-mismatch", "disk-missing"])
def test_ovf_import_failures_are_clear_and_leave_nothing(stack: StackState, operator: OperatorProcess,  # noqa: PLR0917
                                                         govc: Govc, namespace: str, files: tuple[str, Path],
                                                         case: str) -> None:
    base, root = files
    folder = f"ovf-{namespace}"
    descriptor = publish_ovf(root, folder, manifest_disk=b"another disk" if case == "manifest-mismatch" else None,
                             with_disk=case != "disk-missing")
    checksum = "sha256:" + "1" * 64 if case == "descriptor-checksum" else sha256(descriptor)
    reason, named = {"descriptor-checksum": ("ChecksumMismatch", "tiny.ovf"),
                     "manifest-mismatch": ("ChecksumMismatch", "disk1.vmdk"),
                     "disk-missing": ("DownloadFailed", "disk1.vmdk")}[case]
    apply(stack, image_manifest("bad-ovf", {"url": {"url": f"{base}/{folder}/tiny.ovf", "checksum": checksum}}),
          namespace=namespace)
    failed = image_failed(stack, "image", "bad-ovf", namespace, reason, timeout=60)
    assert f"{base}/{folder}/{named}" in ready_message(failed)
    wait_for(lambda: not templates(govc, f"img_{namespace}."), timeout=30, what="nothing left in vCenter")
    stays(lambda: not templates(govc, f"img_{namespace}."), 3, what="nothing left in vCenter")


@pytest.mark.parametrize("case", ["checksum", "unreachable", "not-an-ova", "http-404"])
def test_import_failures_are_clear_and_leave_nothing(stack: StackState, operator: OperatorProcess, govc: Govc,  # noqa: PLR0917
                                                     namespace: str, files: tuple[str, Path], case: str) -> None:
    base, root = files
    ova = make_ova()
    (root / "good.ova").write_bytes(ova)
    (root / "notes.ova").write_bytes(b"this is not a tar archive at all\n" * 100)
    url, checksum, reason = {
        "checksum": (f"{base}/good.ova", "sha256:" + "0" * 64, "ChecksumMismatch"),
        "unreachable": ("http://127.0.0.1:9/x.ova", sha256(ova), "DownloadFailed"),
        "not-an-ova": (f"{base}/notes.ova", sha256(b""), "InvalidImage"),
        "http-404": (f"{base}/absent.ova", sha256(ova), "DownloadFailed"),
    }[case]
    apply(stack, image_manifest("bad", {"url": {"url": url, "checksum": checksum}}), namespace=namespace)
    failed = image_failed(stack, "image", "bad", namespace, reason, timeout=60)
    message = ready_message(failed)
    assert url in message
    if case == "checksum":
        assert sha256(ova) in message
    assert failed.get("phase") == "Failed"
    wait_for(lambda: not templates(govc, f"img_{namespace}."), timeout=30, what="nothing left in vCenter")
    stays(lambda: not templates(govc, f"img_{namespace}."), 3, what="nothing left in vCenter")

    # An ECS that uses the failed image waits for it.
    apply(stack, ecs_manifest("waits", image={"kind": "Image", "name": "bad"}), namespace=namespace)
    wait_for(lambda: condition_is(stack, "ecs", "waits", namespace, "Provisioned", "False", "ImageNotReady"),
             timeout=30, what="ECS waits: ImageNotReady")


def test_private_images_stay_in_their_namespace(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                namespace: str) -> None:
    other = f"{namespace[:50]}-other"
    stack.kubectl("create", "namespace", other)
    apply(stack, image_manifest("private", {"existing": {"name": "ubuntu-22.04-tmpl"}}), namespace=other)
    image_ready(stack, "image", "private", other)
    apply(stack, ecs_manifest("thief", image={"kind": "Image", "name": "private"}), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "thief", namespace, "Provisioned", "False",
                                           "ImageNotFound"), timeout=30, what="ImageNotFound")
    assert namespace in ready_message(status)
    assert govc.vm(f"{namespace}.thief") is None

    # A ClusterImage restricted to other namespaces is not allowed here.
    restricted = f"{namespace[:40]}-restricted"
    apply(stack, image_manifest(restricted, {"existing": {"name": "ubuntu-22.04-tmpl"}}, kind="ClusterImage",
                                namespaceSelector={"matchLabels": {"team": "blue"}}))
    stack.kubectl("label", "namespace", other, "team=blue")
    apply(stack, ecs_manifest("outsider", image={"kind": "ClusterImage", "name": restricted}), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "outsider", namespace, "Provisioned", "False",
                                           "ImageNotAllowed"), timeout=30, what="ImageNotAllowed")
    assert namespace in ready_message(status)
    apply(stack, ecs_manifest("insider", image={"kind": "ClusterImage", "name": restricted}), namespace=other)
    wait_ready(stack, other, "insider")
    # Labelling the namespace admits it.
    stack.kubectl("label", "namespace", namespace, "team=blue")
    wait_ready(stack, namespace, "outsider")
    stack.kubectl("delete", "clusterimage", restricted, "--wait=true", "--timeout=60s")
    # Orphan (the default for existing): the template stays.
    assert govc.vm("ubuntu-22.04-tmpl") is not None
    assert json.loads(stack.kubectl("get", "ecs", "outsider", "-o", "json", namespace=namespace).stdout)


def test_an_image_on_another_backend_than_the_zone_is_refused(stack: StackState, operator: OperatorProcess,
                                                              govc: Govc, namespace: str) -> None:
    # The session's ClusterImage lives on the vCenter; the SCVMM zone cannot clone it.
    apply(stack, ecs_manifest("mismatch", availabilityZone=SCVMM_ZONE), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "mismatch", namespace, "Provisioned", "False",
                                           "ImageNotInZone"), timeout=30, what="ImageNotInZone")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
    assert f"VCenter {VCENTER}" in message and SCVMM_ZONE in message
    stays(lambda: ScvmmSim(stack).vm(f"{namespace}.mismatch") is None and govc.vm(f"{namespace}.mismatch") is None,
          3, what="no VM on either backend")
