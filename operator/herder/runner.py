"""`herder run`: the operator process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import kopf

from herder import metrics


@dataclass(frozen=True)
class RunOptions:
    namespaces: tuple[str, ...] = ()
    log_format: str = "text"
    verbose: bool = False
    liveness_endpoint: str | None = None
    metrics_port: int | None = None
    peering_name: str | None = None


def run(options: RunOptions) -> None:
    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.log_format == "json" else kopf.LogFormat.FULL,
    )
    import herder.controllers  # noqa: F401 - registers the handlers

    if options.metrics_port is not None:
        metrics.start_server(options.metrics_port)

    asyncio.run(
        kopf.operator(
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            standalone=options.peering_name is None,
            peering_name=options.peering_name,
            liveness_endpoint=options.liveness_endpoint,
        )
    )
