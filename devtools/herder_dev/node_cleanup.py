"""What a node leaves behind once its processes are stopped: container processes, mounts, cgroups.

containerd deliberately keeps containers and their shims running when it exits, and neither it nor the
kubelet undoes its mounts or cgroups on shutdown. Everything here is found through the node's own
directories and cgroup parent, so nothing of another node (or of anyone else on the machine) is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 and so on)."""
    return field.encode().decode("unicode_escape")


def _mounts() -> Iterator[tuple[str, str]]:
    """(mount point, filesystem type) of every mount this process sees."""
    for line in MOUNTINFO.read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        yield _unescape(fields[4]), fields[separator + 1]


def cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy: each v1 controller and, on hybrid machines, the unified one."""
    return [Path(point) for point, fstype in _mounts() if fstype in ("cgroup", "cgroup2")]


def create_cgroup_parent(parent: str) -> None:
    """The node's cgroup parent in every hierarchy; the kubelet refuses to start without it."""
    for hierarchy in cgroup_hierarchies():
        path = hierarchy / parent.lstrip("/")
        path.mkdir(exist_ok=True)
        # A new v1 cpuset has no CPUs or memory nodes, and no process may join it until it has.
        for name in ("cpuset.cpus", "cpuset.mems"):
            mine, root = path / name, hierarchy / name
            if mine.exists() and not mine.read_text().strip():
                mine.write_text(root.read_text())


def cgroups_under(parent: str) -> list[Path]:
    """The parent's cgroups in every hierarchy, children before their parents."""
    found: list[Path] = []
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / parent.lstrip("/")
        if top.is_dir():
            found.extend(Path(d) for d, _, _ in os.walk(top))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _pids_in(parent: str) -> set[int]:
    pids: set[int] = set()
    for cgroup in cgroups_under(parent):
        try:
            pids.update(int(p) for p in (cgroup / "cgroup.procs").read_text().split())
        except OSError:
            continue  # removed meanwhile
    return pids


def _kill(pids: set[int] | list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def kill_containers(parent: str, timeout: float = 20.0) -> None:
    """SIGKILL every process in the node's cgroups (the pods' containers) until none is left."""
    deadline = time.monotonic() + timeout
    while pids := _pids_in(parent):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(pids)} in cgroup {parent} survived SIGKILL")
        _kill(pids)
        time.sleep(0.1)


def serving(socket: Path) -> list[int]:
    """Processes started with `-address <socket>`: containerd's shims for that containerd (a shim outlives
    containerd, and containerd 2 records no pid file for it)."""
    wanted = f"\0-address\0{socket}\0".encode()
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return pids


def kill_shims(socket: Path, containerd_state: Path) -> None:
    """The runc shims serving `socket`, and the sockets they listened on (in containerd's fixed
    /run/containerd/s, named in each task's bootstrap.json)."""
    _kill(serving(socket))
    for bootstrap in containerd_state.glob("io.containerd.runtime.v2.task/*/*/bootstrap.json"):
        address = json.loads(bootstrap.read_text()).get("address", "")
        if address.startswith("unix://"):
            Path(address.removeprefix("unix://")).unlink(missing_ok=True)


def mounts_under(root: Path) -> list[str]:
    """Mount points below root, deepest first."""
    prefix = str(root.resolve()) + os.sep
    return sorted({p for p, _ in _mounts() if p.startswith(prefix)}, key=len, reverse=True)


def unmount_under(root: Path) -> None:
    """Unmount everything mounted below root (overlay root filesystems, tmpfs volumes, shm)."""
    for point in mounts_under(root):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def remove_cgroups(parent: str) -> None:
    for cgroup in cgroups_under(parent):
        with contextlib.suppress(FileNotFoundError):
            cgroup.rmdir()


def links_into(directory: Path, target: Path) -> list[Path]:
    """Symbolic links in `directory` that point below `target`."""
    if not directory.is_dir():
        return []
    prefix = str(target) + os.sep
    return [link for link in directory.iterdir() if link.is_symlink() and os.readlink(link).startswith(prefix)]


def remove_links_into(directory: Path, target: Path) -> None:
    for link in links_into(directory, target):
        link.unlink(missing_ok=True)
