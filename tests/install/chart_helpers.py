"""Helpers for the chart and manifests tests: running helm, rendering the chart to objects."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from herder import metrics
from herder_dev.tools import REPO_ROOT, tool

CHART = REPO_ROOT / "charts" / "herder"
Helm = Callable[..., "subprocess.CompletedProcess[str]"]
Obj = dict[str, Any]


def run_helm(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [str(tool("helm")), *args]
    result = subprocess.run(argv, env=os.environ | env, capture_output=True, text=True, check=False, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result


def render(helm: Helm, *values: str, release: str = "herder", namespace: str = "herder-system") -> list[Obj]:
    """`helm template` of the chart with `--set` values, as a list of objects."""
    sets = [arg for value in values for arg in ("--set", value)]
    out = helm("template", release, str(CHART), "--namespace", namespace, *sets).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in matches]}"
    return matches[0]


def container(objects: list[Obj]) -> Obj:
    deployment = find(objects, "Deployment")
    containers: list[Obj] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def exported_metric_names() -> set[str]:
    """Every sample name herder's registry can expose (histograms: _bucket/_sum/_count; counters: _total)."""
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names
