"""Unit tests of the v1alpha1 models and the CRD generator (no cluster needed)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus import CLASSES, REPO, example_files, load_docs, load_invalid_cases
from pydantic import ValidationError

from herder.api import (
    KINDS,
    ElasticCloudServer,
    ElasticCloudServerSpec,
    ElasticCloudServerStatus,
    kind_info,
    parse,
    parse_quantity,
    quantity_to_bytes,
    quantity_to_mib,
)
from herder.api.crdgen import SchemaError, crd, render_all, stale, structural, write
from herder.api.labels import LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN
from herder.api.metadata import KindInfo
from herder.api.quantities import format_mib

CRDS = REPO / "crds"


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (properties, items, additionalProperties)."""
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += walk(node["additionalProperties"], f"{path}[*]")
    return found


def schema_of(info: KindInfo) -> dict[str, Any]:
    result: dict[str, Any] = crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_schema_is_structural(info: KindInfo) -> None:
    text = yaml.safe_dump(schema_of(info))
    assert "$ref" not in text and "$defs" not in text
    assert "title:" not in text
    for path, node in walk(schema_of(info)):
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        assert "type" in node or int_or_string or preserve, f"{info.kind}{path}: no type"
        assert node.get("additionalProperties") is not False, f"{info.kind}{path}: additionalProperties false"
        assert "uniqueItems" not in node, f"{info.kind}{path}: uniqueItems"
        assert "nullable" not in node or node["nullable"] is True
        for key in ("anyOf", "oneOf", "allOf", "not"):
            if key in node:
                assert int_or_string, f"{info.kind}{path}: {key} outside int-or-string"
                assert node[key] == [{"type": "integer"}, {"type": "string"}]
        if node.get("type") == "object" and "properties" in node:
            for name in node.get("required", []):
                assert name in node["properties"], f"{info.kind}{path}: required {name} not a property"


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_every_field_is_described(info: KindInfo) -> None:
    schema = schema_of(info)
    for top in ("spec", "status"):
        for path, node in walk(schema["properties"][top], f".{top}"):
            if path.endswith(("[]", "[*]")):
                continue  # list items and map values are described by their field
            assert node.get("description"), f"{info.kind}{path} has no description (kubectl explain shows it)"


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_no_password_fields_and_no_status_defaults(info: KindInfo) -> None:
    schema = schema_of(info)
    for path, _node in walk(schema):
        assert "password" not in path.lower(), f"{info.kind}{path}: credentials go in Secrets only"
    status = schema["properties"]["status"]
    # The one default: an object no controller has written yet reads as observed at generation 0 (kstatus).
    assert status["default"] == {"observedGeneration": 0}
    for path, node in walk(status, ".status"):
        assert path == ".status" or "default" not in node, f"{info.kind}{path}: status fields carry no defaults"


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_crd_basics(info: KindInfo) -> None:
    spec = crd(info)["spec"]
    version = spec["versions"][0]
    assert spec["group"] == "herder.dev" and version["name"] == "v1alpha1"
    assert spec["names"]["categories"] == ["herder"]
    assert version["subresources"]["status"] == {}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert "Ready" in columns and columns[-1] == "Age"
    status = schema_of(info)["properties"]["status"]["properties"]
    assert "conditions" in status and "observedGeneration" in status
    assert status["conditions"]["x-kubernetes-list-type"] == "map"
    assert status["conditions"]["maxItems"] <= 16


def test_named_columns_and_names() -> None:
    def columns(kind: str) -> list[str]:
        return [c["name"] for c in kind_info(kind).printer_columns if "priority" not in c]

    assert columns("ElasticCloudServer") == ["Zone", "CPU", "Memory", "Power", "IP", "Ready", "Age"]
    for kind in ("Image", "ClusterImage"):
        assert columns(kind)[:2] == ["OS", "FrequentlyUsed"]
    assert kind_info("ElasticCloudServer").short_names == ("ecs",)
    ecsset = crd(kind_info("ElasticCloudServerSet"))["spec"]
    assert ecsset["names"]["shortNames"] == ["ecsset"]
    assert ecsset["versions"][0]["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    scopes = {info.kind: info.scope.value for info in KINDS}
    for kind in ("VCenter", "SCVMM", "AvailabilityZone", "ResourcePool", "ClusterImage"):
        assert scopes[kind] == "Cluster"
    for kind in ("Image", "ElasticCloudServer", "ElasticCloudServerSet", "ServerSnapshot"):
        assert scopes[kind] == "Namespaced"


def test_registry() -> None:
    assert len({i.plural for i in KINDS}) == len(KINDS) == len({i.kind for i in KINDS})
    for info in KINDS:
        assert info.model.model_fields["kind"].default == info.kind
        assert kind_info(info.plural) is info
    with pytest.raises(KeyError):
        kind_info("VirtualMachine")


def test_crds_are_not_stale(tmp_path: Path) -> None:
    write(tmp_path)
    fresh = {p.name: p.read_text() for p in tmp_path.iterdir()}
    checked_in = {p.name: p.read_text() for p in CRDS.glob("*.herder.dev.yaml")}
    assert fresh == render_all()
    problems = stale(CRDS)
    assert not problems and fresh == checked_in, f"crds/ is stale ({problems}): run make crds"


def test_defaults_are_scalar_and_safe() -> None:
    spec = schema_of(kind_info("ElasticCloudServer"))["properties"]["spec"]["properties"]
    assert spec["powerState"]["default"] == "On"
    assert spec["deletionPolicy"]["default"] == "Delete"
    assert spec["powerCyclePolicy"]["default"] == "Manual"
    assert spec["image"]["properties"]["kind"]["default"] == "Image"
    assert "default" not in spec["disks"] and "default" not in spec["availabilityZone"]


def test_cel_rules_carry_messages() -> None:
    count = 0
    for info in KINDS:
        for path, node in walk(schema_of(info)):
            for rule in node.get("x-kubernetes-validations", []):
                count += 1
                assert rule["message"], f"{info.kind}{path}: rule without message"
                # The message names the field; rules on map keys (labels) leave that to the API server's prefix.
                assert "spec" in rule["message"] or rule["message"].startswith(
                    ("shares", "values", "tls.caBundle", "every key", "the prefix of a label key")), rule
    assert count >= 30


def test_generator_rejects_non_structural_input() -> None:
    with pytest.raises(SchemaError, match="unions"):
        structural({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}, {}, ".x")
    with pytest.raises(SchemaError, match="ge/le"):
        structural({"type": "integer", "exclusiveMinimum": 0}, {}, ".x")
    with pytest.raises(SchemaError, match="no type"):
        structural({"description": "untyped"}, {}, ".x")
    with pytest.raises(SchemaError, match="unresolvable"):
        structural({"$ref": "#/$defs/Missing"}, {}, ".x")
    merged = structural(
        {
            "anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}],
            "default": None,
            "description": "outer",
            "x-kubernetes-validations": [{"rule": "b", "message": "b"}],
        },
        {
            "M": {
                "type": "object",
                "title": "M",
                "description": "inner",
                "x-kubernetes-validations": [{"rule": "a", "message": "a"}],
            }
        },
        ".x",
    )
    assert merged == {
        "description": "outer",
        "type": "object",
        "x-kubernetes-validations": [{"rule": "a", "message": "a"}, {"rule": "b", "message": "b"}],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4Gi", 4 * 2**30),
        ("512Mi", 512 * 2**20),
        ("1.5Gi", 3 * 2**29),
        ("100G", 100 * 10**9),
        ("1e3", 1000),
        ("2k", 2000),
        (2048, 2048),
        ("0", 0),
    ],
)
def test_quantity_to_bytes(text: str | int, expected: int) -> None:
    assert quantity_to_bytes(text) == expected


def test_quantity_helpers() -> None:
    assert quantity_to_mib("4Gi") == 4096
    assert quantity_to_mib("1G") == 954  # 10^9 bytes, rounded up to whole MiB
    assert quantity_to_mib(1) == 1
    assert parse_quantity("500m") == Decimal("0.5")
    assert format_mib(4096) == "4Gi" and format_mib(1536) == "1536Mi"
    for bad in ("4GB", "-1Gi", "Gi", "", "1.2.3"):
        with pytest.raises(ValueError):
            parse_quantity(bad)
    with pytest.raises(ValueError):
        parse_quantity(-5)


def test_models_parse_and_serialize_camel_case() -> None:
    spec = ElasticCloudServerSpec.model_validate({"image": {"name": "ubuntu"}, "cpu": 2, "memory": 4096})
    assert spec.memory == "4096" and spec.power_state == "On" and spec.image is not None
    assert spec.image.kind == "Image"
    with pytest.raises(ValidationError):
        ElasticCloudServerSpec.model_validate({"cpu": 0, "memory": "4Gi"})
    with pytest.raises(ValidationError):
        ElasticCloudServerSpec.model_validate({"cpu": 1, "memory": "4GB"})
    status = ElasticCloudServerStatus(
        unique_id="4207-abc", managed_object_id="vm-42", ip_addresses=["10.0.0.5"]
    )
    dumped = status.to_k8s()
    assert dumped == {"uniqueID": "4207-abc", "managedObjectID": "vm-42", "ipAddresses": ["10.0.0.5"]}
    assert ElasticCloudServerStatus.model_validate(dumped).unique_id == "4207-abc"


def test_parse_kopf_like_body_ignores_unknown_status() -> None:
    body = {
        "apiVersion": "herder.dev/v1alpha1",
        "kind": "ElasticCloudServer",
        "metadata": {"name": "web-1", "namespace": "t", "generation": 3, "uid": "u"},
        "spec": {"image": {"name": "ubuntu"}, "cpu": 1, "memory": "1Gi"},
        "status": {
            "kopf": {"progress": {}},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Running",
                    "message": "",
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }
            ],
        },
    }
    server = parse(body)
    assert isinstance(server, ElasticCloudServer)
    assert server.status.is_ready() and server.metadata.generation == 3


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_examples_parse_with_the_models(path: Path) -> None:
    docs = [d for d in load_docs(path) if d["apiVersion"].startswith("herder.dev/")]
    assert docs, f"{path.name} has no herder object"
    for doc in docs:
        model = parse(doc)
        assert model.to_k8s()["spec"], doc


def test_every_kind_has_an_example() -> None:
    kinds = {d["kind"] for p in example_files() for d in load_docs(p)}
    assert {i.kind for i in KINDS} <= kinds


def test_invalid_corpus_is_well_formed() -> None:
    cases = load_invalid_cases()
    assert len(cases) >= 30
    for case in cases:
        assert case.expect, f"{case.path.name}: no '# expect:' line"
        assert yaml.safe_load(case.manifest)["apiVersion"] == "herder.dev/v1alpha1"
        assert case.klass is None or case.klass in CLASSES, f"{case.path.name}: unknown class {case.klass}"


def test_invalid_corpus_covers_every_class_several_times() -> None:
    classed = [case for case in load_invalid_cases() if case.klass]
    assert len(classed) >= 40
    counts = {name: sum(1 for case in classed if case.klass == name) for name in CLASSES}
    assert all(count >= 3 for count in counts.values()), counts
    kinds = {yaml.safe_load(case.manifest)["kind"] for case in classed}
    assert len(kinds) >= 8, kinds


def test_spec_scalars_keep_a_wrong_type_for_the_type_check() -> None:
    """A wrong type is reported as such ("must be of type integer"), not pruned as an unknown field."""
    schema = schema_of(kind_info("ElasticCloudServer"))["properties"]
    spec, status = schema["spec"]["properties"], schema["status"]["properties"]
    assert spec["cpu"]["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["image"]["properties"]["name"]["x-kubernetes-preserve-unknown-fields"] is True
    assert "x-kubernetes-preserve-unknown-fields" not in spec["memory"]  # int-or-string: Kubernetes refuses it
    assert "x-kubernetes-preserve-unknown-fields" not in spec["disks"]["properties"]["data"]  # unknown fields
    assert "x-kubernetes-preserve-unknown-fields" not in status["cpu"]


@pytest.mark.parametrize(("key", "valid"), [
    ("app", True), ("example.com/app", True), ("a.b-c_d", True), ("A1", True), ("x" * 63, True),
    ("sub.example.com/" + "n" * 63, True),
    ("x" * 64, False), ("-app", False), ("app-", False), ("app name", False), ("Example.com/app", False),
    ("/app", False), ("example.com/", False), ("a/b/c", False), ("", False),
])
def test_label_keys_as_kubernetes_checks_them(key: str, valid: bool) -> None:
    assert bool(re.fullmatch(LABEL_KEY_PATTERN, key)) is valid


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), ("web", True), ("v1.2_3-a", True), ("-web", False), ("web!", False), ("a b", False),
])
def test_label_values_as_kubernetes_checks_them(value: str, valid: bool) -> None:
    assert bool(re.fullmatch(LABEL_VALUE_PATTERN, value)) is valid
