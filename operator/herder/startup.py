"""Kopf settings shared by `herder run` and in-process test runners: herder's own prefixes and backoffs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

import kopf

from herder import GROUP
from herder.controllers.shared.runtime import Runtime

FINALIZER = f"{GROUP}/finalizer"


# Kinds whose handlers never ask "what changed since last time": their daemons read the live object.
STATELESS_KINDS = frozenset({"ElasticCloudServer", "ServerSnapshot", "ServerSnapshotRestore",
                             "ServerSnapshotSchedule"})


class DiffBaseForChangeHandlers(kopf.AnnotationsDiffBaseStorage):
    """Kopf keeps a copy of the last handled spec in an annotation, for on.create/on.update handlers.

    Kinds without such handlers do not need it, and writing it would cost one Kubernetes write per
    object: for them the object itself is its own diff-base, so Kopf sees no change and stores nothing.
    """

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if body.get("kind") in STATELESS_KINDS:
            return self.build(body=body)
        return super().fetch(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        if body.get("kind") not in STATELESS_KINDS:
            super().store(body=body, patch=patch, essence=essence)


# Deletions (backend calls too), Kubernetes writes and other blocking work outside daemon passes, which have
# their own threads (herder.controllers.shared.executor).
WORKER_THREADS = 32


@kopf.on.startup()
async def configure(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, "herder-worker"))
    memo.runtime = Runtime(loop)
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = DiffBaseForChangeHandlers(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Events are for users: warnings and transitions, not Kopf's per-handler chatter.
    settings.posting.level = logging.WARNING
    # Long watch requests: at steady state herder should make no calls to the API server.
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    # Kubernetes API errors are retried every second: the API is local to the operator, a retry is cheap, and
    # its absence (a restart, a switch-over) must cost seconds, not a grown backoff.
    settings.networking.error_backoffs = [0.5, 1.0]
    settings.queueing.error_delays = [1, 2, 4, 8, 16, 30, 60]
