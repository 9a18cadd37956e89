"""What an image's status says of its template: OS family and the source used (pure)."""

from __future__ import annotations

import pytest

from herder.api.image import Image
from herder.controllers.image import os_family, source_used


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
