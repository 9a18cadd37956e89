"""What an ElasticCloudServer asks of its namespace's ServerQuotas, and the answer. Asked only before a step that
makes the server take more: a create, an adoption, or a resize while the spec asks for more than the VM has.

`read` gathers what admission needs (from the indexes); `wanted` and `refused` decide on it and nothing else, so
herder plan reports a refusal as the operator would. The operator then asks its ledger (`grant`), which admits
one namespace at a time and remembers the grant until the server's status records it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from herder.api import ElasticCloudServer
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.providers.types import ObservedVM
from herder.reconcile import quota
from herder.reconcile.ecs import Step
from herder.reconcile.quota import Quota, Usage

_MAKES = frozenset({Step.CREATE, Step.ADOPT})


@dataclass(frozen=True)
class Quotas:
    """The namespace's ServerQuotas, what each of its objects takes by stored status ({object UID: usage}), and
    the bytes of the template the server's image resolved (a clone's OS disk, unless its spec sizes it)."""

    quotas: tuple[Quota, ...] = ()
    takes: Mapping[str, Usage] = field(default_factory=dict)
    image_bytes: int = 0


def read(server: ElasticCloudServer, lookups: Lookups) -> Quotas:
    namespace = server.metadata.namespace or ""
    quotas = tuple(lookups.namespace_quotas(namespace))
    if not quotas:
        return Quotas()  # nothing limits the namespace: no need to add up what it takes
    return Quotas(quotas, lookups.namespace_usage(namespace), lookups.image_size(namespace, server.spec.image))


def wanted(server: ElasticCloudServer, vm: ObservedVM | None, step: Step, image_bytes: int) -> Usage | None:
    """What the server would take after `step`, when that is more than it takes now; None when the step takes
    nothing more (and needs no admission)."""
    spec = server.spec.to_k8s()
    if vm is None or step is Step.ADOPT:
        if step not in _MAKES:
            return None
        asked = quota.requested(spec, image_bytes if vm is None else 0)
        return asked.most(quota.observed(vm)) if vm is not None else asked
    has = quota.observed(vm)
    os_disk = next((d.size_bytes for d in vm.disks if d.is_os_disk), 0)
    asked = quota.requested(spec, os_disk)
    if asked.most(has) == has:
        return None  # the spec asks for nothing the VM does not have
    return asked.most(has)


def refused(server: ElasticCloudServer, more: Usage, quotas: Quotas) -> str | None:
    """Why the namespace's quotas refuse the server `more`, by what the objects' stored status says; None when
    they allow it."""
    return quota.refusal(quotas.quotas, quotas.takes, server.metadata.uid or "", more)


def grant(runtime: Runtime, server: ElasticCloudServer, more: Usage, quotas: Quotas) -> str | None:
    """The operator's admission: the ledger's answer (stored status plus what this process granted since), under
    the namespace's lock; a refused server waits for room and is woken when some frees up."""
    if not quotas.quotas:
        return None
    return runtime.ledger.admit(server.metadata.namespace or "", server.metadata.uid or "", more,
                                quotas.quotas, quotas.takes)
