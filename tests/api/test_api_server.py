"""The CRDs against the real kube-apiserver of the local stack (fixtures in tests/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus import InvalidCase, example_files, load_docs, load_invalid_cases

from herder.api import KINDS, ElasticCloudServerSpec, kind_info

pytestmark = pytest.mark.stack

Kubectl = Callable[..., Any]


def _cluster_scoped(doc: dict[str, Any]) -> bool:
    return doc["apiVersion"].startswith("herder.dev/") and not kind_info(doc["kind"]).namespaced


def _apply(kubectl: Kubectl, docs: list[dict[str, Any]], namespace: str, check: bool = True) -> Any:
    return kubectl(
        "apply",
        "--validate=strict",
        "-f",
        "-",
        input=yaml.safe_dump_all(docs),
        namespace=namespace,
        check=check,
    )


def _delete(kubectl: Kubectl, docs: list[dict[str, Any]], namespace: str) -> None:
    """Cluster-scoped leftovers would leak into other tests of the session stack: remove them."""
    cluster_docs = [d for d in docs if _cluster_scoped(d)]
    if cluster_docs:
        kubectl(
            "delete",
            "--ignore-not-found",
            "--wait=false",
            "-f",
            "-",
            input=yaml.safe_dump_all(cluster_docs),
            namespace=namespace,
            check=False,
        )


def _unique_cluster_names(docs: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """Examples are applied as written, except that cluster-scoped objects get a per-test suffix, so the
    test never overwrites objects other tests of the same session stack (e.g. the real `vcsim`) use."""
    out = []
    for doc in docs:
        renamed = doc
        if _cluster_scoped(doc):
            renamed = {**doc, "metadata": {**doc["metadata"], "name": f"{doc['metadata']['name']}-{suffix}"}}
        out.append(renamed)
    return out


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_applies(path: Path, kubectl: Kubectl, namespace: str) -> None:
    docs = _unique_cluster_names(load_docs(path), uuid.uuid4().hex[:6])
    try:
        _apply(kubectl, docs, namespace)
        got = kubectl("get", "-f", "-", "-o", "json", input=yaml.safe_dump_all(docs), namespace=namespace)
        items = json.loads(got.stdout).get("items") or [json.loads(got.stdout)]
        assert len(items) == len(docs)
        for doc, item in zip(docs, items, strict=True):
            assert item["kind"] == doc["kind"]
            if doc["kind"] != "Secret":
                # no controller has seen it yet, and it says so (kstatus: InProgress, never Current)
                assert item["status"]["observedGeneration"] == 0 < item["metadata"]["generation"]
                # what we wrote is what is stored: nothing was pruned as unknown
                for key, value in doc["spec"].items():
                    assert key in item["spec"], f"{doc['kind']}.spec.{key} was pruned"
                    if not isinstance(value, dict | list):
                        assert item["spec"][key] == value
    finally:
        _delete(kubectl, docs, namespace)


@pytest.mark.parametrize("case", load_invalid_cases(), ids=lambda c: c.id)
def test_invalid_manifest_is_rejected(case: InvalidCase, kubectl: Kubectl, namespace: str) -> None:
    setup = [yaml.safe_load(doc) for doc in case.setup]
    manifest = yaml.safe_load(case.manifest)
    try:
        for doc in setup:
            _apply(kubectl, [doc], namespace)
        result = _apply(kubectl, [manifest], namespace, check=False)
        assert result.returncode != 0, f"{case.path.name} ({case.description}) was accepted:\n{result.stdout}"
        for field in case.expect:
            assert field in result.stderr, f"{case.path.name}: '{field}' not named in:\n{result.stderr}"
    finally:
        _delete(kubectl, [*setup, manifest], namespace)


def test_explain_shows_model_descriptions(kubectl: Kubectl) -> None:
    out = kubectl("explain", "elasticcloudserver.spec.memory").stdout
    description = ElasticCloudServerSpec.model_fields["memory"].description
    assert description and description in " ".join(out.split())
    spec = kubectl("explain", "ecs.spec").stdout
    for field in ("availabilityZone", "powerCyclePolicy", "adoptFrom", "deletionPolicy"):
        assert field in spec


def test_scale_ecsset(kubectl: Kubectl, namespace: str) -> None:
    doc = load_docs(Path(__file__).resolve().parents[2] / "examples" / "elasticcloudserverset.yaml")[0]
    doc["spec"]["replicas"] = 1
    _apply(kubectl, [doc], namespace)
    name = doc["metadata"]["name"]
    kubectl("scale", f"ecsset/{name}", "--replicas=3", namespace=namespace)
    got = kubectl("get", f"ecsset/{name}", "-o", "jsonpath={.spec.replicas}", namespace=namespace)
    assert got.stdout == "3"
    # the scale subresource reads status.replicas and status.selector back
    kubectl(
        "patch",
        f"ecsset/{name}",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"replicas": 3, "selector": "app=workers"}}),
        namespace=namespace,
    )
    scale = kubectl(
        "get",
        "--raw",
        f"/apis/herder.dev/v1alpha1/namespaces/{namespace}/elasticcloudserversets/{name}/scale",
    )
    assert json.loads(scale.stdout)["status"] == {"replicas": 3, "selector": "app=workers"}


def test_get_herder_lists_every_kind(kubectl: Kubectl, namespace: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    docs = [d for p in example_files() for d in _unique_cluster_names(load_docs(p), suffix)]
    try:
        _apply(kubectl, docs, namespace)
        listed = kubectl("get", "herder", "-o", "name", namespace=namespace).stdout
        listed += kubectl("get", "herder", "-A", "-o", "name").stdout
        for info in KINDS:
            assert f"{info.singular}.herder.dev/" in listed, f"kubectl get herder does not list {info.kind}"
    finally:
        _delete(kubectl, docs, namespace)


def test_defaults_status_and_printer_columns(kubectl: Kubectl, namespace: str) -> None:
    server = {
        "apiVersion": "herder.dev/v1alpha1",
        "kind": "ElasticCloudServer",
        "metadata": {"name": "mini"},
        "spec": {"image": {"name": "ubuntu-22.04"}, "cpu": 1, "memory": "1Gi"},
    }
    _apply(kubectl, [server], namespace)
    stored = json.loads(kubectl("get", "ecs/mini", "-o", "json", namespace=namespace).stdout)
    assert stored["spec"]["powerState"] == "On"
    assert stored["spec"]["deletionPolicy"] == "Delete"
    assert stored["spec"]["powerCyclePolicy"] == "Manual"
    assert stored["spec"]["image"]["kind"] == "Image"
    status = {
        "observedGeneration": stored["metadata"]["generation"],
        "zone": "dc0-c0",
        "powerState": "On",
        "ipAddresses": ["10.0.0.5", "fe80::1"],
        "uniqueID": "4207a8b4-1111-2222-3333-444455556666",
        "pendingTask": {"id": "task-42", "operation": "create", "startedAt": "2025-01-01T00:00:00Z"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Running",
                "message": "",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "observedGeneration": stored["metadata"]["generation"],
            }
        ],
    }
    kubectl(
        "patch",
        "ecs/mini",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        namespace=namespace,
    )
    table = kubectl("get", "ecs/mini", namespace=namespace).stdout.split()
    for value in ("dc0-c0", "1Gi", "On", "10.0.0.5", "True"):
        assert value in table
    # a condition in the wrong shape is rejected by the status schema
    bad = {"status": {"conditions": [{"type": "Ready", "status": "Yes"}]}}
    result = kubectl(
        "patch",
        "ecs/mini",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(bad),
        namespace=namespace,
        check=False,
    )
    assert result.returncode != 0 and "status.conditions[0].status" in result.stderr
