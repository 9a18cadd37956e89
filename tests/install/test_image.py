"""The operator image as built by `make image` (the repository's Dockerfile, on local Debian bases): what it
runs, and what is in it. tests/e2e/test_image_operator.py runs it against the stack."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from chart_helpers import Helm, container, render
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from herder_dev import image_inspect
from herder_dev.podman import podman, ulimits

# The image's Python: markers in the requirements are evaluated for it, not for the test runner's.
IMAGE_PYTHON = {"python_version": "3.11", "python_full_version": "3.11.2", "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "sys_platform": "linux", "os_name": "posix",
                "platform_system": "Linux", "platform_machine": "x86_64", "extra": ""}


@pytest.fixture(scope="module")
def image_root(herder_image: str):  # type: ignore[no-untyped-def]
    with image_inspect.mounted(herder_image) as root:
        yield root


def requirement_closure(distributions: dict[str, metadata.Distribution], top: str) -> set[str]:
    """`top` and everything it requires, transitively, for the image's Python (no extras)."""
    seen: set[str] = set()
    pending = [top]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in distributions[name].requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(IMAGE_PYTHON):
                pending.append(canonicalize_name(requirement.name))
    return seen


def test_the_image_runs_what_the_chart_runs_as_uid_65532(herder_image: str, helm_offline: Helm) -> None:
    config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", herder_image).stdout)
    main = container(render(helm_offline))
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] + config["Cmd"] == main["command"] + main["args"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "9090/tcp"}
    # The user has a name (Kopf names its peer after it) and owns nothing in the image.
    passwd = podman("run", "--rm", *ulimits(), "--read-only", "--entrypoint", "getent", herder_image,
                    "passwd", "65532").stdout
    assert passwd.startswith("herder:x:65532:65532:")


def test_the_virtualenv_holds_herder_and_its_dependencies_only(image_root: Path) -> None:
    distributions = image_inspect.python_distributions(image_root)
    assert "herder" in distributions
    assert set(distributions) == requirement_closure(distributions, "herder")
    assert not {"pip", "setuptools", "wheel"} & set(distributions)


def test_no_history_cache_pip_compiler_or_build_leftover(image_root: Path) -> None:
    assert image_inspect.leftovers(image_root) == []


def test_gitleaks_finds_no_secret_in_the_image(image_root: Path, tmp_path: Path) -> None:
    # The control: the same scan does report a private key planted in a directory.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "planted.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert [(f.rule, f.file) for f in image_inspect.secret_findings(tmp_path)] == [("private-key", "planted.pem")]

    assert image_inspect.secret_findings(image_root) == []
