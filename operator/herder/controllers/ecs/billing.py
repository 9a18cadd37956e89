"""The durable part of chargeback that outlives servers: what deleted servers used, per (namespace, zone),
in the ConfigMap `herder-metering` of the operator's namespace. Each server is folded in once, by its
deletion (the recently folded UIDs guard against a deletion that runs again after a crash)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from herder import OPERATOR_NAMESPACE, kube, metrics
from herder.errors import KubernetesUnavailable
from herder.reconcile.metering import Usage, from_status

CONFIG_MAP = "herder-metering"
RECENTLY_FOLDED = 1000
_ATTEMPTS = 10
Where = tuple[str, str]


def _decode(data: dict[str, str]) -> tuple[dict[Where, Usage], list[str]]:
    totals = {(ns, zone): Usage.from_k8s(usage) for ns, zones in json.loads(data.get("totals", "{}")).items()
              for zone, usage in zones.items()}
    return totals, list(json.loads(data.get("folded", "[]")))


def _encode(totals: dict[Where, Usage], folded: list[str]) -> dict[str, str]:
    nested: dict[str, dict[str, Any]] = {}
    for (ns, zone), usage in sorted(totals.items()):
        nested.setdefault(ns, {})[zone] = usage.to_k8s()
    return {"totals": json.dumps(nested, sort_keys=True), "folded": json.dumps(folded[-RECENTLY_FOLDED:])}


def load() -> dict[Where, Usage]:
    found = kube.read_config_map(OPERATOR_NAMESPACE, CONFIG_MAP)
    return _decode(found[0])[0] if found else {}


def fold(uid: str, namespace: str, zone: str, status: dict[str, Any]) -> None:
    """Add what the server used up to now to its namespace's durable total, once."""
    record = from_status(status.get("metering"))
    if record is None:
        return
    usage = record.at(datetime.now(UTC))
    for _ in range(_ATTEMPTS):
        found = kube.read_config_map(OPERATOR_NAMESPACE, CONFIG_MAP)
        data, version = found if found else ({}, None)
        totals, folded = _decode(data)
        if uid in folded:
            return
        totals[(namespace, zone)] = totals.get((namespace, zone), Usage()) + usage
        if kube.write_config_map(OPERATOR_NAMESPACE, CONFIG_MAP, _encode(totals, [*folded, uid]), version):
            metrics.METERING.deleted(namespace, zone, usage)
            return
    raise KubernetesUnavailable(f"ConfigMap {OPERATOR_NAMESPACE}/{CONFIG_MAP} kept changing under the write")
