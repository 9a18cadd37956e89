"""Library shares as the file system sees them: each share is a real directory under the state directory, and
UNC paths (\\\\server\\share\\dir\\file.vhdx) map onto it case-insensitively, as Windows names files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from herder_dev.scvmm_sim.vmm.state import Record, Store


@dataclass(frozen=True)
class Located:
    share: Record
    path: Path  # the local file or directory, which may not exist yet
    relative: str  # the path below the share, with backslashes ("" for the share itself)


class Shares:
    def __init__(self, store: Store) -> None:
        self.store = store

    def server(self, share: Record) -> Record:
        return self.store.get("library_servers", share["server"], "library server")

    def directory(self, share: Record) -> Path:
        return self.store.library_root / str(self.server(share)["name"]).lower() / str(share["name"])

    def unc(self, share: Record, relative: str = "") -> str:
        root = f"\\\\{self.server(share)['name']}\\{share['name']}"
        return f"{root}\\{relative}" if relative else root

    def ensure_directories(self) -> None:
        for share in self.store.all("library_shares"):
            self.directory(share).mkdir(parents=True, exist_ok=True)

    def locate(self, path: str) -> Located | None:
        """The share and local path a UNC path names; None for anything outside the library shares."""
        unc = PureWindowsPath(path)
        if not unc.drive.startswith("\\\\"):
            return None
        host, _, share_name = unc.drive.strip("\\").partition("\\")
        share = next((s for s in self.store.all("library_shares") if s["name"].lower() == share_name.lower()
                      and _same_host(self.server(s)["name"], host)), None)
        parts = [p for p in unc.parts[1:] if p != "\\"]
        if share is None or any(p in (".", "..") for p in parts):
            return None
        local = self.directory(share)
        for part in parts:
            local = _child(local, part)
        return Located(share, local, "\\".join(parts))

    def relative(self, share: Record, local: Path) -> str:
        return "\\".join(local.relative_to(self.directory(share)).parts)


def _same_host(fqdn: str, host: str) -> bool:
    return host.lower() in (fqdn.lower(), fqdn.split(".", maxsplit=1)[0].lower())


def _child(directory: Path, name: str) -> Path:
    """directory/name, matching an existing entry whatever its case."""
    exact = directory / name
    if exact.exists() or not directory.is_dir():
        return exact
    return next((p for p in directory.iterdir() if p.name.lower() == name.lower()), exact)
