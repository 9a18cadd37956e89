"""Where the test world's binaries live: built by tools/build.sh into a versioned cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("etcd", "kube-apiserver", "kubectl", "vcsim", "govc", "helm", "promtool", "promql-metrics", "kstatus",
         "argocd-health", "gitleaks", "kubelet", "kube-controller-manager", "kube-scheduler", "pause", "containerd",
         "containerd-shim-runc-v2", "ctr")


class MissingToolError(RuntimeError):
    pass


def bin_dir() -> Path:
    """$HERDER_TOOLS_BIN, else the <repo>/.tools link that tools/build.sh maintains."""
    configured = os.environ.get("HERDER_TOOLS_BIN")
    return Path(configured) if configured else REPO_ROOT / ".tools" / "bin"


def tool(name: str) -> Path:
    candidate = bin_dir() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if name in TOOLS and found is None:
        raise MissingToolError(
            f"missing binary '{name}': looked in {bin_dir()} and on PATH. "
            "Build the pinned tools with 'make install' (tools/build.sh)."
        )
    if found is None:
        raise MissingToolError(f"missing binary '{name}' on PATH")
    return Path(found)
