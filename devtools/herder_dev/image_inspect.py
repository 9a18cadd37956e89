"""What is inside an image: its size, Debian packages and Python distributions, secrets found by gitleaks,
and anything that must not ship (shell histories, caches, pip, compilers, build leftovers, the test world).

    python -m herder_dev.image_inspect IMAGE     # print all of it (make image-report)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from herder_dev.podman import podman
from herder_dev.processes import StackError
from herder_dev.tools import tool

VENV = "opt/herder"
HISTORIES = frozenset({".bash_history", ".sh_history", ".ash_history", ".zsh_history", ".python_history",
                       ".lesshst", ".viminfo", ".wget-hsts", ".node_repl_history", ".psql_history"})
COMPILER_PREFIXES = ("gcc", "g++", "cc", "c++", "cpp", "clang", "tcc", "ld", "as", "make", "cmake")
# Paths that exist only while building: the builder's sources and wheels, build secrets.
BUILD_ONLY = ("src", "wheels", "run/secrets")


@dataclass(frozen=True)
class SecretFinding:
    rule: str
    file: str
    line: int


@contextlib.contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The image's root file system, read in place (rootful podman)."""
    root = Path(podman("image", "mount", image).stdout.strip())
    try:
        yield root
    finally:
        podman("image", "unmount", image, check=False)


def size_bytes(image: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def debian_packages(root: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f", "${Package}\t${Version}\n"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(tuple(line.split("\t", 1)) for line in out.splitlines())  # type: ignore[misc]


def python_distributions(root: Path) -> dict[str, metadata.Distribution]:
    """Every distribution in the operator's virtualenv, by canonical name."""
    paths = [str(p) for p in (root / VENV).glob("lib/python3*/site-packages")]
    return {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=paths)}


def _is_compiler(name: str) -> bool:
    return any(name == prefix or name.startswith((f"{prefix}-", f"x86_64-linux-gnu-{prefix}"))
               for prefix in COMPILER_PREFIXES)


def _unwanted_dir(parent: Path, name: str) -> bool:
    return name in (".cache", "herder_dev") or (name == "pip" and parent.name.endswith("-packages"))


def _unwanted_file(parent: Path, name: str) -> bool:
    if name in HISTORIES or name.endswith(".deb"):
        return True
    if name.endswith(".whl") and name.startswith(("pip-", "setuptools-", "wheel-")):
        return True
    if parent.name == "bin" and (name.startswith("pip") or _is_compiler(name)):
        return True
    return parent == Path("var/lib/apt/lists") and name != "lock"


def leftovers(root: Path) -> list[str]:
    """Everything that must not be in the image, as paths relative to its root."""
    found = [relative for relative in BUILD_ONLY if (root / relative).exists()]
    for directory, dirs, files in os.walk(root):
        relative = Path(directory).relative_to(root)
        found += [str(relative / name) for name in dirs if _unwanted_dir(relative, name)]
        found += [str(relative / name) for name in files if _unwanted_file(relative, name)]
    return sorted(found)


def secret_findings(directory: Path) -> list[SecretFinding]:
    """gitleaks' default rules over every file under `directory` (secrets redacted from its output)."""
    with tempfile.TemporaryDirectory(prefix="herder-gitleaks-") as scratch:
        report = Path(scratch) / "report.json"
        result = subprocess.run(
            [str(tool("gitleaks")), "dir", str(directory), "--no-banner", "--redact", "--log-level", "error",
             "--report-format", "json", "--report-path", str(report), "--exit-code", "0"],
            capture_output=True, text=True, check=False, timeout=900)
        if result.returncode != 0:
            raise StackError(f"gitleaks failed ({result.returncode}): {result.stderr[-2000:]}")
        raw = json.loads(report.read_text())
    return [SecretFinding(rule=f["RuleID"], file=str(Path(f["File"]).relative_to(directory)), line=f["StartLine"])
            for f in raw]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    args = parser.parse_args(argv)
    print(f"image: {args.image}\nsize: {size_bytes(args.image) / 1e6:.0f} MB")
    with mounted(args.image) as root:
        packages, distributions = debian_packages(root), python_distributions(root)
        print(f"Debian packages ({len(packages)}): " + ", ".join(f"{n} {v}" for n, v in packages))
        print(f"Python distributions in /{VENV} ({len(distributions)}): "
              + ", ".join(f"{name} {dist.version}" for name, dist in sorted(distributions.items())))
        unwanted = leftovers(root)
        print(f"histories, caches, pip, compilers, build leftovers: {', '.join(unwanted) or 'none'}")
        secrets = secret_findings(root)
        print(f"gitleaks: {len(secrets)} finding(s)" + "".join(f"\n  {s.rule} {s.file}:{s.line}" for s in secrets))
    return 1 if unwanted or secrets else 0


if __name__ == "__main__":
    sys.exit(main())
