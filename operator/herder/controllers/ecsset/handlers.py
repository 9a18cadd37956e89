"""ElasticCloudServerSet handlers: keep `replicas` ECS children (ownerReferences), spread across zones.

The children are found through an index of ECSs by owner; each child carries the hash of the template it
was made from (herder.dev/template-hash). Its scale subresource reads status.replicas and .selector.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from herder import GROUP, VERSION, kube
from herder.controllers.ecsset.sync import KIND, SERVERS, child_of, set_failed, sync_set
from herder.controllers.shared.daemon import Daemon
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import runtime_of
from herder.reconcile.ecsset import Child

PLURAL = "elasticcloudserversets"
ChildIndex = kopf.Index[tuple[str, str], Child]


@kopf.index(GROUP, VERSION, SERVERS)
def set_children_index(*, namespace: str | None, name: str, body: kopf.Body,
                       **_: Any) -> dict[tuple[str, str], Child]:
    """{(namespace, set uid): Child} for ECSs owned by a set; empty (not None, which would keep the entry) for
    others."""
    owned = child_of(name, body)
    return {(namespace or "", owned[0]): owned[1]} if owned is not None else {}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def set_daemon(*, body: kopf.Body, namespace: str | None, uid: str, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                     **kwargs: Any) -> None:
    runtime = runtime_of(memo)
    lookups = Lookups.of(kwargs)
    index: ChildIndex = kwargs["set_children_index"]

    def step(current: dict[str, Any], _: object) -> Any:
        return sync_set(runtime, current, list(index.get((namespace or "", uid), ())), lookups)

    daemon = Daemon(KIND, PLURAL, step=step, on_error=lambda current, exc: set_failed(runtime, current, exc))
    await daemon.run(body, uid, runtime, stopped)


@kopf.on.event(GROUP, VERSION, PLURAL)
def set_event(*, uid: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(uid)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def set_deleted(*, namespace: str | None, uid: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete the children explicitly: the ownerReferences are also there for the garbage collector, but
    not every cluster runs one (the test world has no controller-manager)."""
    index: ChildIndex = kwargs["set_children_index"]
    for child in list(index.get((namespace or "", uid), ())):
        if not child.deleting:
            await asyncio.to_thread(kube.delete_custom_object, SERVERS, namespace or "", child.name)
    runtime = runtime_of(memo)
    runtime.ledger.wait(namespace or "", uid, False)
    runtime.forget(uid)
