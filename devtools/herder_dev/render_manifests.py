"""Keep the install artefacts in step with their sources.

1. charts/herder/crds/ is a copy of crds/ (Helm installs CRDs only from a chart's own crds/ directory).
2. manifests/ is the chart's default rendering (`helm template`) as a kustomize base, one file per template.
3. charts/herder/health/argocd-cm-patch.yaml puts the Argo CD health check (health/herder.lua) in argocd-cm
   under every herder kind's key.

    python -m herder_dev.render_manifests            # rewrite all three (make manifests)
    python -m herder_dev.render_manifests --check    # exit 1 if any is stale (make manifests-check)
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from herder.api.registry import KINDS
from herder_dev.tools import REPO_ROOT, tool

CHART = REPO_ROOT / "charts" / "herder"
CRDS = REPO_ROOT / "crds"
MANIFESTS = REPO_ROOT / "manifests"
RELEASE = "herder"
NAMESPACE = "herder-system"
HEALTH_SCRIPT = CHART / "health" / "herder.lua"
ARGOCD_CM_PATCH = CHART / "health" / "argocd-cm-patch.yaml"
REGENERATE = "make manifests (python -m herder_dev.render_manifests)"
HEADER = "# Generated from charts/herder by `make manifests`; do not edit.\n"
ARGOCD_CM_PATCH_HEADER = """\
# Generated from health/herder.lua by `make manifests`; do not edit.
# Argo CD's health check for every herder kind, a patch of argocd-cm (docs/gitops.md). Apply it with
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd-cm-patch.yaml
# or list it under `patches:` of the kustomization that installs Argo CD.
"""
# Labels that would claim Helm manages objects applied with kubectl/kustomize.
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


class _Dumper(yaml.SafeDumper):
    """Block-style multi-line strings, so the generated YAML stays readable and diffable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def helm_template(*args: str, release: str = RELEASE, namespace: str = NAMESPACE) -> str:
    """`helm template` of the chart with extra `args` (e.g. --include-crds, --show-only, --set)."""
    argv = [str(tool("helm")), "template", release, str(CHART), "--namespace", namespace, *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False,
                            env=os.environ | {"HELM_CACHE_HOME": tempfile.gettempdir()})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout


def split_by_source(rendered: str) -> dict[str, list[dict[str, object]]]:
    """helm template output -> {relative output file: [objects]}, grouped by the template they came from."""
    files: dict[str, list[dict[str, object]]] = {}
    for chunk in rendered.split("\n---\n"):
        source = next((line.split("# Source: ", 1)[1] for line in chunk.splitlines()
                       if line.startswith("# Source: ")), None)
        body = yaml.safe_load(chunk)
        if source is None or not body:
            continue
        _, folder, name = source.split("/", 2)  # herder/templates/rbac.yaml, herder/crds/x.yaml
        target = f"crds/{name}" if folder == "crds" else name
        labels = body.get("metadata", {}).get("labels")
        if isinstance(labels, dict):
            for key in HELM_ONLY_LABELS:
                labels.pop(key, None)
        files.setdefault(target, []).append(body)
    return files


def render(target: Path) -> None:
    """Write the kustomize base into `target` (created; existing files there are replaced)."""
    files = split_by_source(helm_template("--include-crds"))
    target.mkdir(parents=True, exist_ok=True)
    for relative, objects in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, width=120))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        # CRDs first: kubectl applies in this order and the rest does not depend on them, but readers do.
        "resources": sorted(files, key=lambda name: (not name.startswith("crds/"), name)),
    }
    (target / "kustomization.yaml").write_text(
        HEADER + yaml.dump(kustomization, Dumper=_Dumper, sort_keys=False))


def argocd_cm_patch() -> str:
    """argocd-cm's health-check keys (resource.customizations.health.<group>_<kind>) for every herder kind."""
    script = HEALTH_SCRIPT.read_text()
    data = {f"resource.customizations.health.{info.group}_{info.kind}": script for info in KINDS}
    patch = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}, "data": data}
    return ARGOCD_CM_PATCH_HEADER + yaml.dump(patch, Dumper=_Dumper, sort_keys=False, width=120)


def sync_chart_crds() -> None:
    target = CHART / "crds"
    target.mkdir(exist_ok=True)
    for stale in target.glob("*.yaml"):
        if not (CRDS / stale.name).exists():
            stale.unlink()
    for crd in sorted(CRDS.glob("*.yaml")):
        shutil.copyfile(crd, target / crd.name)


def stale_files(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ, are missing or are extra (recursive)."""
    found: list[str] = []

    def walk(compare: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + name for name in compare.left_only + compare.right_only + compare.diff_files)
        # dircmp compares shallowly by stat signature; confirm content for the "same" ones.
        found.extend(prefix + name for name in compare.same_files
                     if (Path(compare.left) / name).read_bytes() != (Path(compare.right) / name).read_bytes())
        for name, sub in compare.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    if not actual.is_dir():
        return ["(missing directory)"]
    walk(filecmp.dircmp(expected, actual), "")
    return sorted(found)


def check() -> list[str]:
    """Problems as human-readable lines; empty when everything is current."""
    problems = [f"charts/herder/crds/{name}" for name in stale_files(CRDS, CHART / "crds")]
    if not ARGOCD_CM_PATCH.is_file() or ARGOCD_CM_PATCH.read_text() != argocd_cm_patch():
        problems.append(str(ARGOCD_CM_PATCH.relative_to(REPO_ROOT)))
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "manifests"
        render(fresh)
        problems += [f"manifests/{name}" for name in stale_files(fresh, MANIFESTS)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="render_manifests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if any of the artefacts is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        if problems:
            print("stale: " + ", ".join(problems) + f"\nrun: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    sync_chart_crds()
    ARGOCD_CM_PATCH.write_text(argocd_cm_patch())
    if MANIFESTS.exists():
        shutil.rmtree(MANIFESTS)
    render(MANIFESTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
