"""podman as this machine runs it: Debian's podman with runc, and resource limits no higher than the current.

crun, podman's default runtime, fails on hybrid cgroups ("cgroups in hybrid mode not supported"), and
podman's default limits exceed what an unprivileged-resources machine may set (no CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess

from herder_dev.processes import StackError

# What the image build and the image test run. podman builds with its own buildah library.
DEBIAN_PACKAGES = ("podman", "runc", "debootstrap")
COMMANDS = ("podman", "runc", "debootstrap")


def ensure_installed() -> None:
    """Install Debian's podman, runc and debootstrap when one is missing (CI starts from a clean machine)."""
    missing = [name for name in COMMANDS if shutil.which(name) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(f"missing {', '.join(missing)}: install Debian's {' '.join(DEBIAN_PACKAGES)} "
                         "(apt-get install), or run as root on Debian to have it done")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=900)
        if result.returncode != 0:
            raise StackError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-2000:]}")


# Upper bounds: runc is refused an nproc limit much above this here, even one below the current limit.
ULIMIT_CAPS = {"nofile": 1 << 20, "nproc": 4096}


def ulimits() -> list[str]:
    """--ulimit flags no higher than the current soft limits: podman's defaults would try to raise them."""
    flags = []
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, _ = resource.getrlimit(limit)
        value = min(ULIMIT_CAPS[name], soft) if soft != resource.RLIM_INFINITY else ULIMIT_CAPS[name]
        flags += ["--ulimit", f"{name}={value}:{value}"]
    return flags


def podman(*args: str, check: bool = True, timeout: float = 600, input: str | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """`podman --runtime runc ARGS`; with `check`, a failure raises with podman's output."""
    argv = ["podman", "--runtime", "runc", *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout, input=input)
    if check and result.returncode != 0:
        raise StackError(f"{' '.join(argv[:5])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0
