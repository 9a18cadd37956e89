"""Generate the CustomResourceDefinitions in crds/ from the pydantic models.

    python -m herder.api.crdgen crds            # write crds/<plural>.herder.dev.yaml
    python -m herder.api.crdgen --check crds    # exit 1 if crds/ differs from the models

pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3 schema. This module
post-processes pydantic's output: ``$ref``/``$defs`` are inlined, ``anyOf [X, null]`` (Optional) becomes X
(not required), titles and ``additionalProperties: false`` are dropped, only scalar defaults outside
status are kept, and CEL rules given as ``x-kubernetes-validations`` in ``json_schema_extra`` are merged
wherever the node ends up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from herder.api.metadata import GROUP, VERSION, KindInfo
from herder.api.registry import KINDS

Schema = dict[str, Any]

HEADER = (
    "# Generated from herder.api by `python -m herder.api.crdgen`: edit the models, then run `make crds`.\n"
)
_DROP = {"title", "$schema", "examples"}
_LIST_KEYS = ("x-kubernetes-validations",)


class SchemaError(ValueError):
    """The models produced something Kubernetes would not accept as a structural schema."""


def _merge(base: Schema, extra: Schema) -> Schema:
    """``extra`` (the referring node) wins over ``base`` (the referenced one); CEL rule lists add up."""
    merged = {**base, **extra}
    for key in _LIST_KEYS:
        if key in base and key in extra:
            merged[key] = [*base[key], *extra[key]]
    return merged


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline ``$ref`` and single-element ``allOf`` wrappers, repeatedly."""
    while True:
        if "$ref" in node:
            ref = node["$ref"]
            name = ref.rsplit("/", 1)[-1]
            if name not in defs:
                raise SchemaError(f"unresolvable $ref {ref}")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = _merge(defs[name], rest)
            continue
        if "allOf" in node and len(node["allOf"]) == 1:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            node = _merge(node["allOf"][0], rest)
            continue
        return node


def _is_scalar_default(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


_SCALARS = frozenset({"string", "integer", "number", "boolean"})


def _typed_errors(node: Schema) -> Schema:
    """Scalars (and lists of scalars) keep what they are given, so that the API server reports a value of the
    wrong type as "must be of type integer" instead of pruning it as "unknown field". Harmless: a valid
    scalar has no fields to keep. (Not possible on int-or-string nodes, and not wanted on lists of objects,
    whose unknown fields must still be refused.)"""
    items = node.get("items") or {}
    if node.get("type") in _SCALARS or (node.get("type") == "array" and items.get("type") in _SCALARS):
        return {**node, "x-kubernetes-preserve-unknown-fields": True}
    return node


def structural(
    node: Schema, defs: dict[str, Schema], path: str = "", *, spec: bool = True
) -> Schema:
    """One pydantic JSON schema node -> one structural OpenAPI v3 node. `spec`: a node users write (its scalar
    defaults are kept, and a value of the wrong type is reported as such); False for status."""
    node = _resolve(dict(node), defs)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) != len(node["anyOf"]):  # Optional[X]: omitted means unset
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            if rest.get("default", 0) is None:
                rest.pop("default")
            if len(branches) != 1:
                raise SchemaError(f"{path or '.'}: unions other than Optional[X] are not supported")
            node = _merge(_resolve(dict(branches[0]), defs), rest)
            return structural(node, defs, path, spec=spec)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "default":
            if spec and _is_scalar_default(value):
                out[key] = value
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key in {"exclusiveMinimum", "exclusiveMaximum"} and not isinstance(value, bool):
            raise SchemaError(f"{path}: use ge/le, not gt/lt (OpenAPI v3.0 exclusive bounds are booleans)")
        if key == "uniqueItems":
            raise SchemaError(f"{path}: uniqueItems is not allowed; use x-kubernetes-list-type: set")
        if key == "additionalProperties":
            if value is False:
                continue
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
                continue
            out[key] = structural(value, defs, f"{path}[*]", spec=spec)
            continue
        if key == "properties":
            out[key] = {
                name: structural(sub, defs, f"{path}.{name}", spec=spec)
                for name, sub in value.items()
            }
            continue
        if key == "items":
            out[key] = structural(value, defs, f"{path}[]", spec=spec)
            continue
        if key in {"anyOf", "oneOf", "allOf"}:
            out[key] = [_strip_value_validation(b) for b in value]
            continue
        out[key] = value
    if "type" not in out and not (
        out.get("x-kubernetes-int-or-string") or out.get("x-kubernetes-preserve-unknown-fields")
    ):
        raise SchemaError(f"{path or '.'}: no type (structural schemas need one on every node)")
    if "required" in out and not out["required"]:
        del out["required"]
    return _ordered(_typed_errors(out) if spec else out)


_FIRST = ("description", "type")
_LAST = ("properties", "additionalProperties", "items", "required")


def _ordered(node: Schema) -> Schema:
    """A stable, readable key order: description and type first, children last, the rest sorted."""
    middle = sorted(k for k in node if k not in _FIRST and k not in _LAST)
    keys = [k for k in _FIRST if k in node] + middle + [k for k in _LAST if k in node]
    return {k: node[k] for k in keys}


def _strip_value_validation(branch: Schema) -> Schema:
    """Inside anyOf/oneOf/allOf only value validations may appear (the int-or-string case is allowed)."""
    return {k: v for k, v in branch.items() if k not in _DROP and k != "description"}


_API_VERSION = {
    "type": "string",
    "description": "APIVersion defines the versioned schema of this representation of an object.",
}
_KIND = {"type": "string", "description": "Kind is a string value representing the REST resource."}
_METADATA = {"type": "object"}


def openapi_schema(info: KindInfo) -> Schema:
    """The openAPIV3Schema of one kind."""
    raw = info.model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    properties = raw.get("properties", {})
    spec = structural(properties["spec"], defs, ".spec")
    status = structural(properties["status"], defs, ".status", spec=False)
    # Until a controller writes status, the object reads as observed at generation 0 (kstatus: InProgress), so
    # an object nothing has acted on yet never looks healthy to a GitOps tool.
    status["default"] = {"observedGeneration": 0}
    schema: Schema = {
        "type": "object",
        "description": (info.model.__doc__ or info.kind).strip(),
        "properties": {
            "apiVersion": _API_VERSION,
            "kind": _KIND,
            "metadata": _METADATA,
            "spec": spec,
            "status": status,
        },
        "required": ["spec"],
    }
    if info.rules:
        schema["x-kubernetes-validations"] = list(info.rules)
    return schema


def crd(info: KindInfo) -> Schema:
    """The CustomResourceDefinition of one kind."""
    subresources: Schema = {"status": {}}
    if info.scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    names: Schema = {
        "kind": info.kind,
        "listKind": f"{info.kind}List",
        "plural": info.plural,
        "singular": info.singular,
    }
    if info.short_names:
        names["shortNames"] = list(info.short_names)
    names["categories"] = list(info.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": info.crd_name,
            "labels": {"app.kubernetes.io/part-of": "herder"},
        },
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": info.scope.value,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema(info)},
                    "subresources": subresources,
                    "additionalPrinterColumns": [dict(c) for c in info.printer_columns],
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes shared sub-schemas out in full (no YAML anchors/aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(info: KindInfo) -> str:
    """The YAML text of one CRD file."""
    return HEADER + yaml.dump(crd(info), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def render_all() -> dict[str, str]:
    """File name -> YAML text, for every kind."""
    return {f"{info.crd_name}.yaml": render(info) for info in KINDS}


def write(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        target = outdir / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        written.append(target)
    return written


def stale(outdir: Path) -> list[str]:
    """Files in outdir that differ from (or are missing, or are extra to) the generated set."""
    expected = render_all()
    problems = []
    for name, text in expected.items():
        target = outdir / name
        if not target.exists():
            problems.append(f"{name}: missing")
        elif target.read_text() != text:
            problems.append(f"{name}: differs")
    for extra in sorted(outdir.glob(f"*.{GROUP}.yaml")):
        if extra.name not in expected:
            problems.append(f"{extra.name}: not generated by any model")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m herder.api.crdgen", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="directory for <plural>.herder.dev.yaml")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.outdir)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("CRDs are stale: run make crds", file=sys.stderr)
            return 1
        return 0
    for path in write(args.outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
