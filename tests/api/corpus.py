"""Helpers shared by the API tests: the examples and the invalid-manifest corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
INVALID = Path(__file__).resolve().parent / "invalid"


@dataclass(frozen=True)
class InvalidCase:
    """One file of tests/api/invalid: every document but the last is applied first (and must succeed);
    the last must be rejected, with every ``# expect:`` string in kubectl's stderr."""

    path: Path
    description: str
    expect: tuple[str, ...]
    setup: tuple[str, ...]
    manifest: str

    @property
    def id(self) -> str:
        return self.path.stem


def load_invalid_cases() -> list[InvalidCase]:
    cases = []
    for path in sorted(INVALID.glob("*.yaml")):
        text = path.read_text()
        comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
        expect = tuple(c.split(":", 1)[1].strip() for c in comments if c.startswith("expect:"))
        docs = [d for d in text.split("\n---\n") if d.strip()]
        cases.append(
            InvalidCase(
                path=path,
                description=comments[0] if comments else "",
                expect=expect,
                setup=tuple(docs[:-1]),
                manifest=docs[-1],
            )
        )
    return cases


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
