"""What a node leaves behind once its processes are stopped: container processes, mounts, cgroups.

containerd deliberately keeps containers and their shims running when it exits, and neither it nor the
kubelet undoes its mounts or cgroups on shutdown. Everything here is found through the node's own
directories and cgroup parent, so nothing of another node (or of anyone else on the machine) is touched.
"""

from __future__ import annotations

import contextlib
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


def _cgroups_under(parent: str) -> list[Path]:
    """The parent's cgroups in every hierarchy, children before their parents."""
    found: list[Path] = []
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / parent.lstrip("/")
        if top.is_dir():
            found.extend(Path(d) for d, _, _ in os.walk(top))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _pids_in(parent: str) -> set[int]:
    pids: set[int] = set()
    for cgroup in _cgroups_under(parent):
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


def kill_shims(containerd_state: Path) -> None:
    """containerd's runc shims, by the pid each records in its task's bundle directory."""
    shims: list[int] = []
    for pid_file in containerd_state.glob("io.containerd.runtime.v2.task/*/*/shim.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue  # gone already
        if Path(exe).name == "containerd-shim-runc-v2":  # not a recycled pid
            shims.append(pid)
    _kill(shims)


def unmount_under(root: Path) -> None:
    """Unmount everything mounted below root (overlay root filesystems, tmpfs volumes, shm), deepest first."""
    prefix = str(root.resolve()) + os.sep
    points = sorted({p for p, _ in _mounts() if p.startswith(prefix)}, key=len, reverse=True)
    for point in points:
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def remove_cgroups(parent: str) -> None:
    for cgroup in _cgroups_under(parent):
        with contextlib.suppress(FileNotFoundError):
            cgroup.rmdir()


def delete_link(name: str) -> None:
    """The CNI bridge, created only when a pod without hostNetwork ran on the node."""
    if Path("/sys/class/net", name).exists():
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
