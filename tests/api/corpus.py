"""Helpers shared by the API tests: the examples and the invalid-manifest corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
INVALID = Path(__file__).resolve().parent / "invalid"


#: The classes of mistakes the API must refuse at apply time (issue 13), each with several cases of its own.
CLASSES = {
    "range": "numbers with a real range: ports, sizes greater than zero, counts",
    "labels": "label keys and values in selectors and templates, as Kubernetes validates them",
    "selector": "an ECS set whose selector does not select its own template's labels",
    "url": "URLs that must have a scheme and a host",
    "hostname": "fields that take host names, not URLs",
    "identifier": "identifiers with a known format (instance UUIDs, VMM IDs)",
    "pem": "PEM text where a file path is easy to paste instead",
    "cycle": "references that form a cycle",
    "backend": "backend-specific fields on a backend known at apply time",
    "type": "a value of the wrong type: the message names the expected type",
    "adoption": "adoption that is not opened, or not possible",
    "quota": "ServerQuota limits",
}


@dataclass(frozen=True)
class InvalidCase:
    """One file of tests/api/invalid: every document but the last is applied first (and must succeed);
    the last must be rejected, with every ``# expect:`` string in kubectl's stderr. ``# class:`` names the
    kind of mistake it stands for (see CLASSES)."""

    path: Path
    description: str
    expect: tuple[str, ...]
    setup: tuple[str, ...]
    manifest: str
    klass: str | None = None

    @property
    def id(self) -> str:
        return self.path.stem


def load_invalid_cases() -> list[InvalidCase]:
    cases = []
    for path in sorted(INVALID.glob("*.yaml")):
        text = path.read_text()
        comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
        expect = tuple(c.split(":", 1)[1].strip() for c in comments if c.startswith("expect:"))
        klass = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("class:")), None)
        docs = [d for d in text.split("\n---\n") if d.strip()]
        cases.append(
            InvalidCase(
                path=path,
                description=comments[0] if comments else "",
                expect=expect,
                setup=tuple(docs[:-1]),
                manifest=docs[-1],
                klass=klass,
            )
        )
    return cases


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
