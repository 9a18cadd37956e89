"""Namespace handlers: their labels, for the namespace selectors of zones, pools and ClusterImages."""

from __future__ import annotations

from typing import Any

import kopf

from herder.controllers.shared.indexes import dependency_changed
from herder.controllers.shared.runtime import runtime_of


@kopf.index("namespaces")
def namespace_index(*, name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.on.event("namespaces")
def namespace_event(*, type: str | None, uid: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    dependency_changed(runtime_of(memo), type, uid, body)
