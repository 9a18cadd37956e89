"""herder plan's backends: one connection per VCenter or SCVMM of the planned world, made with the credentials
its Secret holds (read by name, as the operator reads them), and handed out only as read-only views
(`herder.providers.readonly.ReadOnly`). Every request they make is counted per backend and operation."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import Any

from herder import OPERATOR_NAMESPACE
from herder.controllers.connection import endpoints
from herder.controllers.shared.backoff import Backoff
from herder.errors import HerderError, ProviderNotReady
from herder.plan.cluster import Cluster
from herder.plan.world import World
from herder.providers.base import Provider, ProviderReads
from herder.providers.readonly import ReadOnly
from herder.providers.types import Credentials, EndpointInfo

log = logging.getLogger(__name__)
_ENDPOINTS = {"VCenter": "vcenter", "SCVMM": "scvmm"}


class PlanBackends:
    """`herder.controllers.shared.runtime.Backends` for a plan: connects on first use, reads only."""

    def __init__(self, cluster: Cluster, world: World) -> None:
        self._cluster = cluster
        self._world = world
        self._providers: dict[tuple[str, str], Provider] = {}
        self._reads: dict[tuple[str, str], ReadOnly] = {}
        self._failures: dict[tuple[str, str], HerderError] = {}
        self.info: dict[tuple[str, str], EndpointInfo] = {}
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.backoff = Backoff()  # a plan has no failed steps of its own to hold back

    def reads(self, kind: str, name: str) -> ProviderReads:
        key = (kind, name)
        if key not in self._reads and key not in self._failures:
            try:
                self._reads[key] = self._connect(kind, name)
            except HerderError as exc:
                self._failures[key] = exc
        failed = self._failures.get(key)
        if failed is not None:
            raise ProviderNotReady(f"herder plan cannot read {kind} {name}: {failed}", reason=failed.reason)
        return self._reads[key]

    def connected(self, kind: str, name: str) -> bool:
        try:
            self.reads(kind, name)
        except HerderError:
            return False
        return True

    def failure(self, kind: str, name: str) -> HerderError | None:
        return self._failures.get((kind, name))

    def _counter(self, backend: str) -> Any:
        def on_request(operation: str, ok: bool, seconds: float) -> None:
            self.requests[backend][operation] += 1

        return on_request

    def _connect(self, kind: str, name: str) -> ReadOnly:
        body = self._world.get((kind, None, name))
        if body is None:
            raise ProviderNotReady(f"{kind} {name} not found")
        backend = _ENDPOINTS[kind]
        endpoint = (endpoints.vcenter(body, on_request=self._counter(backend), read_only=True) if kind == "VCenter"
                    else endpoints.scvmm(body, on_request=self._counter(backend)))
        ref = endpoint.credentials
        secret = self._cluster.secret(ref.namespace or OPERATOR_NAMESPACE, ref.name, ("username", "password"))
        provider = endpoint.build(Credentials(secret["username"], secret["password"]))
        self._providers[(kind, name)] = provider
        self.info[(kind, name)] = provider.endpoint.info()  # logs in: proves the credentials
        log.debug("%s %s: connected (read-only)", kind, name)
        return ReadOnly(provider)

    def close(self) -> None:
        for provider in self._providers.values():
            provider.close()
        self._providers.clear()
