"""The image planner: the source step, what failures mean, the capture hold, what status reports (pure)."""

from __future__ import annotations

import pytest

from herder.api.image import Image, ImageFormat
from herder.providers.types import TemplateInfo
from herder.reasons import Reason
from herder.reconcile.capture import CaptureHold
from herder.reconcile.image import (
    DISK_FORMATS,
    Failure,
    SourceStep,
    available,
    failure,
    gives_back,
    hold_for,
    image_format,
    next_step,
    os_family,
    restop_wait,
    source_used,
)


@pytest.mark.parametrize(("guest", "declared", "family"), [
    ("windows2019srv_64Guest", "Linux", "Windows"), ("ubuntu64Guest", "Windows", "Linux"),
    ("otherLinux64Guest", "Linux", "Linux"), ("freebsd12_64Guest", "Linux", "Other"), ("", "Windows", "Windows"),
])
def test_os_family_comes_from_the_guest_id(guest: str, declared: str, family: str) -> None:
    assert os_family(guest, declared) == family


def test_the_source_used_never_shows_url_credentials() -> None:
    image = Image.model_validate({
        "apiVersion": "herder.dev/v1alpha1", "kind": "Image", "metadata": {"name": "x", "namespace": "team"},
        "spec": {"osFamily": "Linux", "provider": {"kind": "VCenter", "name": "vc"},
                 "source": {"url": {"url": "https://bob:s3cret@files.example:8443/a.ova?x=1",
                                    "checksum": "sha256:" + "a" * 64}}}})
    used = source_used(image)
    assert used == {"type": "url", "reference": "https://files.example:8443/a.ova?x=1",
                    "checksum": "sha256:" + "a" * 64}


def _image(source: dict[str, object], kind_meta: dict[str, object] | None = None) -> Image:
    return Image.model_validate({
        "apiVersion": "herder.dev/v1alpha1", "kind": "Image",
        "metadata": kind_meta or {"name": "web", "namespace": "team", "uid": "img-uid"},
        "spec": {"osFamily": "Linux", "provider": {"kind": "VCenter", "name": "vc"}, "source": source}})


URL = {"url": {"url": "https://files.example/a.ova", "checksum": "sha256:" + "a" * 64}}
CAPTURE = {"fromServer": {"name": "web-1"}}
EXISTING = {"existing": {"name": "ubuntu"}}


@pytest.mark.parametrize(("source", "step"), [(EXISTING, SourceStep.FIND), (CAPTURE, SourceStep.CAPTURE),
                                              (URL, SourceStep.IMPORT)])
def test_the_source_decides_the_step(source: dict[str, object], step: SourceStep) -> None:
    assert next_step(_image(source).spec.source, None, failed_this_generation=False, retry_due=True) is step


def test_a_final_failure_stands_until_the_spec_changes_and_others_wait_for_their_backoff() -> None:
    source = _image(URL).spec.source
    assert next_step(source, Reason.CHECKSUM_MISMATCH, True, retry_due=True) is SourceStep.STANDS
    assert next_step(source, Reason.CHECKSUM_MISMATCH, False, retry_due=True) is SourceStep.IMPORT  # new generation
    assert next_step(source, Reason.DOWNLOAD_FAILED, True, retry_due=False) is SourceStep.HELD
    assert next_step(source, Reason.DOWNLOAD_FAILED, True, retry_due=True) is SourceStep.IMPORT


def test_what_a_failure_writes() -> None:
    url, capture = _image(URL).spec.source, _image(CAPTURE).spec.source
    assert failure(Reason.CHECKSUM_MISMATCH, url, import_failed=True) == Failure("Failed", False, True)
    assert failure(Reason.DOWNLOAD_FAILED, url, import_failed=True) == Failure("Failed", True, True)
    assert failure(Reason.PROVIDER_NOT_READY, url, import_failed=False) == Failure("Pending", True, True)
    # A capture keeps following its clone through passing trouble; a failed clone is over.
    assert failure(Reason.UNREACHABLE, capture, import_failed=False) == Failure("Pending", True, False)
    assert failure(Reason.CAPTURE_FAILED, capture, import_failed=False) == Failure("Pending", True, True)


def test_only_passing_trouble_or_a_running_clone_keeps_the_server_held() -> None:
    assert not gives_back(Reason.UNREACHABLE, cloning=False)
    assert not gives_back(Reason.SERVER_BUSY, cloning=False)
    assert gives_back(Reason.SERVER_NOT_READY, cloning=False)
    assert not gives_back(Reason.SERVER_NOT_READY, cloning=True)
    assert gives_back(Reason.CAPTURE_FAILED, cloning=True)


def test_a_server_given_back_runs_longer_after_each_failure_in_a_row() -> None:
    assert [restop_wait(n, 300.0, 3600.0) for n in (1, 2, 3, 4, 5)] == [300.0, 600.0, 1200.0, 2400.0, 3600.0]


def test_the_hold_names_the_image_and_says_how_to_stop() -> None:
    graceful = hold_for("Image", _image({"fromServer": {"name": "web-1", "powerPolicy": "GuestShutdown"}}))
    assert graceful == CaptureHold("Image/team/web", "img-uid", graceful=True)
    pulled = hold_for("Image", _image({"fromServer": {"name": "web-1", "powerPolicy": "PowerOff"}}))
    assert pulled is not None and not pulled.graceful
    assert hold_for("Image", _image({"fromServer": {"name": "web-1", "powerPolicy": "Live"}})) is None


@pytest.mark.parametrize(("url", "declared", "fmt"), [
    ("https://x/a.ova", None, ImageFormat.OVA), ("https://x/a.OVF?sig=1", None, ImageFormat.OVF),
    ("https://x/disk.vhdx", None, ImageFormat.VHDX), ("https://x/blob", ImageFormat.OVF, ImageFormat.OVF),
    ("https://x/old.VHD", None, ImageFormat.VHD), ("https://x/disk.vhdx.zip#top", None, ImageFormat.VHDX),
    ("https://x/win.vhd.zip", None, ImageFormat.VHD), ("https://x/any.zip", ImageFormat.VHDX, ImageFormat.VHDX),
])
def test_the_format_is_declared_or_told_by_the_url(url: str, declared: ImageFormat | None, fmt: ImageFormat) -> None:
    assert image_format(url, declared) is fmt


def test_disks_are_imported_as_disks() -> None:
    assert {ImageFormat.VHD, ImageFormat.VHDX} == DISK_FORMATS


def test_a_template_without_disk_sizes_reports_no_size() -> None:
    _, fields = available(TemplateInfo("id-1", "id-1", "tmpl", "tmpl", 2, 2048, 0, guest_id="Other Linux (64 bit)"),
                          {"kind": "SCVMM", "name": "vmm"})
    assert fields["size"] is None and fields["guestID"] == "Other Linux (64 bit)"
    assert os_family("Other Linux (64 bit)", "Windows") == "Linux"
    assert os_family("Windows Server 2022 Datacenter", "Linux") == "Windows"


def test_an_available_template_reports_what_the_backend_says() -> None:
    info = TemplateInfo("uuid-1", "vm-9", "ubuntu", "/DC0/vm/ubuntu", 2, 4096, 20 * 2**30, guest_id="ubuntu64Guest")
    conditions, fields = available(info, {"kind": "VCenter", "name": "vc"})
    assert conditions[0].status and conditions[0].reason is Reason.AVAILABLE
    assert (fields["size"], fields["memory"], fields["uniqueID"]) == ("20Gi", "4Gi", "uuid-1")
