"""The herder image, built from the repository's Dockerfile on local Debian bases, cached by content.

No image registry is reachable here, so the bases come from Debian's packages: one debootstrap (minbase,
Python 3.11 from bookworm) gives a builder base with python3-venv and, with that purged, a runtime base
with only python3. Each is cached by its recipe, the image by what goes into it (Dockerfile, .dockerignore,
the build context, the bases): as tar files under ~/.cache/herder/images and as podman images.

    python -m herder_dev.image_build           # make image: build what is missing, print the image's name
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path

from herder_dev.podman import ensure_installed, image_exists, podman, ulimits
from herder_dev.processes import StackError
from herder_dev.tools import REPO_ROOT

IMAGE = "localhost/herder"
BASE = "localhost/herder-base"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
KEEP_IMAGES = 3  # cached image tars (and their podman images) kept besides the newest
# Seen once in a CI run on this machine: podman build exited 0 yet the tag was not in the store a moment
# later (cause not found). One more build then, and a clear error if the tag is still missing.
BUILD_ATTEMPTS = 2


@dataclass(frozen=True)
class BaseRecipe:
    """Everything the bases are made of: their cache key is a hash of this."""

    suite: str = "bookworm"  # python3 is 3.11.2, the Python of python:3.11-slim's line
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = ("python3", "python3-venv")
    # Purged for the runtime base: venv and ensurepip's bundled pip and setuptools.
    builder_only: tuple[str, ...] = ("python3-venv", "python3.11-venv", "python3-pip-whl", "python3-setuptools-whl")
    # Deleted from both, as Debian's slim images leave them out (licences under usr/share/doc stay).
    removed: tuple[str, ...] = ("usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
                                "var/lib/apt/lists", "var/log", "var/cache/debconf/templates.dat-old",
                                "var/cache/debconf/config.dat-old")
    # python:3.11-slim's image configuration.
    config: tuple[str, ...] = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "ENV LANG=C.UTF-8", 'CMD ["python3"]')

    def key(self) -> str:
        return _digest(json.dumps(asdict(self), sort_keys=True).encode())


@dataclass(frozen=True)
class Bases:
    builder: str
    runtime: str


def cache_dir() -> Path:
    configured = os.environ.get("HERDER_IMAGES_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(configured) if configured else Path(xdg) / "herder" / "images"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per cache: other checkouts wait, then find the result cached."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(*argv: str, timeout: float = 900) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if result.returncode != 0:
        raise StackError(f"{' '.join(argv[:4])} failed ({result.returncode}):\n{result.stderr[-3000:]}")


# -- the bases -------------------------------------------------------------------------------------------------

def _slim(root: Path, recipe: BaseRecipe) -> None:
    for relative in recipe.removed:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
        else:
            target.unlink(missing_ok=True)
    for path in (root / "usr/share/doc").rglob("*"):
        if path.is_file() and path.name != "copyright":
            path.unlink()


def _import(tar: Path, ref: str, recipe: BaseRecipe) -> None:
    changes = [arg for change in recipe.config for arg in ("--change", change)]
    podman("import", "--quiet", *changes, str(tar), ref)


def _build_base_tars(recipe: BaseRecipe, target: Path, say: Callable[[str], None]) -> None:
    """debootstrap once; tar the builder, purge its builder-only packages, tar the runtime."""
    with tempfile.TemporaryDirectory(prefix="herder-base-", dir=target.parent) as scratch:
        root = Path(scratch) / "rootfs"
        say(f"debootstrap {recipe.suite} with {', '.join(recipe.packages)}")
        _run("debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}", recipe.suite,
             str(root), recipe.mirror, timeout=1800)
        staging = Path(scratch) / "tars"
        staging.mkdir()
        _slim(root, recipe)
        _run("tar", "--numeric-owner", "-C", str(root), "-cf", str(staging / "builder.tar"), ".")
        _run("chroot", str(root), "dpkg", "--purge", *recipe.builder_only)
        _slim(root, recipe)
        _run("tar", "--numeric-owner", "-C", str(root), "-cf", str(staging / "runtime.tar"), ".")
        staging.rename(target)


def ensure_bases(recipe: BaseRecipe = BaseRecipe(), say: Callable[[str], None] = print) -> Bases:
    key = recipe.key()
    bases = Bases(builder=f"{BASE}:builder-{key}", runtime=f"{BASE}:runtime-{key}")
    if image_exists(bases.builder) and image_exists(bases.runtime):
        return bases
    tars = cache_dir() / f"base-{key}"
    with _locked(cache_dir() / f"base-{key}.lock"):
        if not tars.is_dir():
            started = time.monotonic()
            _build_base_tars(recipe, tars, say)
            say(f"bases built in {time.monotonic() - started:.0f}s ({tars})")
        for kind, ref in (("builder", bases.builder), ("runtime", bases.runtime)):
            if not image_exists(ref):
                _import(tars / f"{kind}.tar", ref, recipe)
    return bases


# -- the image -------------------------------------------------------------------------------------------------

def context_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files .dockerignore lets into the build context. It is an allow-list: `*`, then `!path` roots,
    then `**/name` exclusions; any other form is refused so that this and the engine cannot disagree."""
    roots: list[str] = []
    excluded: list[str] = []
    for raw in (root / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "*":
            continue
        if line.startswith("!"):
            roots.append(line[1:].rstrip("/"))
        elif line.startswith("**/") and "/" not in line[3:]:
            excluded.append(line[3:])
        else:
            raise ValueError(f".dockerignore: unsupported pattern {line!r} (allowed: *, !path, **/name)")
    files = []
    for name in roots:
        top = root / name
        candidates = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        files += [p for p in candidates
                  if not any(fnmatch(part, pattern) for part in p.relative_to(root).parts for pattern in excluded)]
    return files


def image_key(bases: Bases, root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256(f"{bases.builder}\n{bases.runtime}\n".encode())
    for path in [root / "Dockerfile", root / ".dockerignore", *context_files(root)]:
        digest.update(f"{path.relative_to(root)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _pip_ca() -> list[str]:
    """The Dockerfile's optional pip-ca build secret: this machine's CA bundle, since its egress to PyPI
    may pass a TLS proxy whose CA only the host trusts."""
    bundle = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or HOST_CA_BUNDLE)
    return ["--secret", f"id=pip-ca,src={bundle}"] if bundle.is_file() else []


def _prune(say: Callable[[str], None]) -> None:
    """Keep the newest KEEP_IMAGES image tars; drop older ones and their podman images."""
    tars = sorted(cache_dir().glob("herder-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in tars[KEEP_IMAGES:]:
        say(f"pruning {old.name}")
        podman("rmi", f"{IMAGE}:{old.stem.removeprefix('herder-')}", check=False)
        old.unlink(missing_ok=True)
        old.with_suffix(".lock").unlink(missing_ok=True)


def ensure_image(say: Callable[[str], None] = print) -> str:
    """The image built from this checkout, as `localhost/herder:<content key>`; built only when missing."""
    ensure_installed()
    bases = ensure_bases(say=say)
    key = image_key(bases)
    ref = f"{IMAGE}:{key}"
    if image_exists(ref):
        return ref
    tar = cache_dir() / f"herder-{key}.tar"
    with _locked(cache_dir() / f"herder-{key}.lock"):
        if tar.exists():
            podman("load", "--quiet", "--input", str(tar))
        if not image_exists(ref):
            started = time.monotonic()
            say(f"building {ref}")
            for attempt in range(BUILD_ATTEMPTS):
                # --layers=false: no intermediate images are kept (the content key already decides when to build).
                podman("build", "--layers=false", "--network", "host", *ulimits(), *_pip_ca(),
                       "--build-arg", f"PYTHON_IMAGE={bases.runtime}", "--build-arg", f"BUILDER_IMAGE={bases.builder}",
                       "--tag", ref, str(REPO_ROOT), timeout=1800)
                if image_exists(ref):
                    break
                say(f"podman build succeeded but {ref} is not in the store (attempt {attempt + 1})")
            else:
                raise StackError(f"podman build succeeded {BUILD_ATTEMPTS} times but {ref} is not in the store")
            podman("save", "--quiet", "--output", f"{tar}.tmp", ref)
            Path(f"{tar}.tmp").rename(tar)
            say(f"built {ref} in {time.monotonic() - started:.0f}s")
    _prune(say)
    return ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    started = time.monotonic()
    ref = ensure_image(say=lambda line: print(f"[image] {line}", file=sys.stderr))
    print(f"[image] {ref} ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
    print(ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
