"""Images for the node without a registry: archives imported into containerd's store with ctr.

The pod sandbox image is made here from the pause binary that tools/build.sh compiles; any other image (the
herder image from `make image`) comes as an archive that `podman save` wrote.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from herder_dev.processes import StackError
from herder_dev.tools import tool

# Where the kubelet's pods live in containerd.
K8S_NAMESPACE = "k8s.io"
PAUSE_IMAGE = "localhost/herder-dev/pause:1"


def _run(*argv: str, what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise StackError(f"{what} failed ({result.returncode}): {' '.join(argv[:4])} ...\n{result.stderr.strip()}")
    return result.stdout


def _podman(work: Path) -> list[str]:
    """podman with storage of its own under `work`: nothing in the machine's shared image store."""
    if shutil.which("podman") is None:
        raise StackError("podman is not installed (make install runs tools/packages.sh for it)")
    return ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--tmpdir",
            str(work / "tmp"), "--storage-driver", "vfs", "--events-backend", "none"]


def build_pause_archive(directory: Path) -> Path:
    """directory/pause.oci.tar: PAUSE_IMAGE, the static pause binary alone, as its entrypoint."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "pause.oci.tar"
    # podman refuses a runroot path longer than 50 characters: a short scratch directory.
    with tempfile.TemporaryDirectory(prefix="herder-pause-") as scratch:
        work = Path(scratch)
        rootfs = work / "rootfs.tar"
        with tarfile.open(rootfs, "w") as tar:
            binary = tool("pause").read_bytes()
            info = tarfile.TarInfo("pause")
            info.size, info.mode = len(binary), 0o755
            tar.addfile(info, io.BytesIO(binary))
        podman = _podman(work)
        _run(*podman, "import", "--change", 'ENTRYPOINT ["/pause"]', str(rootfs), PAUSE_IMAGE,
             what="podman import")
        archive.unlink(missing_ok=True)
        _run(*podman, "save", "--format", "oci-archive", "-o", str(archive), PAUSE_IMAGE, what="podman save")
    return archive


def ctr(socket: Path) -> list[str]:
    return [str(tool("ctr")), "--address", str(socket), "--namespace", K8S_NAMESPACE]


def import_archive(socket: Path, archive: Path) -> None:
    """Import an image archive into the node's containerd, unpacked for the kubelet."""
    _run(*ctr(socket), "images", "import", str(archive), what=f"importing {archive.name} into containerd")


def tag(socket: Path, source: str, target: str) -> None:
    """A second name for an imported image (what a registry push of a new tag would give)."""
    _run(*ctr(socket), "images", "tag", "--force", source, target, what=f"tagging {source} as {target}")


def images(socket: Path) -> list[str]:
    return _run(*ctr(socket), "images", "list", "--quiet", what="listing images").split()
