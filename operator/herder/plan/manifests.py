"""The input of a plan: YAML or JSON documents from files, directories (`-R`: and below) or stdin (`-`), as
`kubectl apply -f` reads them; `helm template` and `kustomize build` output arrive this way. `List` objects
are unpacked. Only herder's kinds are planned; anything else is counted as ignored."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from herder import GROUP
from herder.api.metadata import Scope
from herder.api.registry import BY_KIND

_SUFFIXES = (".yaml", ".yml", ".json")


class InvalidInput(Exception):
    """A file that cannot be read or parsed: nothing is planned."""


@dataclass(frozen=True)
class Manifest:
    body: dict[str, Any]
    source: str  # "path#document" or "stdin#document"

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        return (self.body.get("metadata") or {}).get("namespace")


def is_herder(body: dict[str, Any]) -> bool:
    return str(body.get("apiVersion") or "").split("/")[0] == GROUP and body.get("kind") in BY_KIND


def _files(path: Path, recursive: bool) -> list[Path]:
    if path.is_dir():
        found = path.rglob("*") if recursive else path.glob("*")
        return sorted(p for p in found if p.is_file() and p.suffix in _SUFFIXES)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or directory")
    return [path]


def _documents(text: str, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: not YAML: {exc}") from None
    for index, document in enumerate(loaded):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InvalidInput(f"{where}#{index}: a document must be an object, not {type(document).__name__}")
        if document.get("kind") == "List" or str(document.get("kind", "")).endswith("List"):
            for item in document.get("items") or []:
                if isinstance(item, dict):
                    yield index, item
            continue
        yield index, document


def read(sources: list[str], recursive: bool = False) -> list[Manifest]:
    """Every document of every source, in order."""
    manifests: list[Manifest] = []
    for source in sources:
        if source == "-":
            texts = [("stdin", sys.stdin.read())]
        else:
            texts = []
            for path in _files(Path(source), recursive):
                try:
                    texts.append((str(path), path.read_text()))
                except OSError as exc:
                    raise InvalidInput(f"{path}: {exc.strerror}") from None
        for where, text in texts:
            manifests += [Manifest(body, f"{where}#{index}") for index, body in _documents(text, where)]
    return manifests


def with_namespace(manifest: Manifest, default: str) -> Manifest:
    """A namespaced herder object without a namespace goes to `default`, as kubectl would put it."""
    info = BY_KIND[manifest.kind]
    if info.scope is not Scope.NAMESPACED or manifest.namespace:
        return manifest
    body = dict(manifest.body)
    body["metadata"] = {**(body.get("metadata") or {}), "namespace": default}
    return Manifest(body, manifest.source)
