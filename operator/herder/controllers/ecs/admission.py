"""What an ElasticCloudServer asks of its namespace's ServerQuotas, and the answer (the runtime's ledger, one
namespace at a time). Asked only before a step that makes the server take more: a create, an adoption, or a
resize while the spec asks for more than the VM has."""

from __future__ import annotations

from herder.api import ElasticCloudServer
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.providers.types import ObservedVM
from herder.reconcile import quota
from herder.reconcile.ecs import Step
from herder.reconcile.quota import Usage

_MAKES = frozenset({Step.CREATE, Step.ADOPT})


def wanted(server: ElasticCloudServer, vm: ObservedVM | None, step: Step, lookups: Lookups) -> Usage | None:
    """What the server would take after `step`, when that is more than it takes now; None when the step takes
    nothing more (and needs no admission)."""
    spec = server.spec.to_k8s()
    if vm is None or step is Step.ADOPT:
        if step not in _MAKES:
            return None
        image = lookups.image_size(server.metadata.namespace or "", server.spec.image) if vm is None else 0
        asked = quota.requested(spec, image)
        return asked.most(quota.observed(vm)) if vm is not None else asked
    has = quota.observed(vm)
    os_disk = next((d.size_bytes for d in vm.disks if d.is_os_disk), 0)
    asked = quota.requested(spec, os_disk)
    if asked.most(has) == has:
        return None  # the spec asks for nothing the VM does not have
    return asked.most(has)


def admit(runtime: Runtime, server: ElasticCloudServer, vm: ObservedVM | None, step: Step,
          lookups: Lookups) -> str | None:
    """Why the namespace's quotas refuse `step`; None when they allow it (or it takes nothing more)."""
    more = wanted(server, vm, step, lookups)
    if more is None:
        return None
    namespace = server.metadata.namespace or ""
    quotas = lookups.namespace_quotas(namespace)
    if not quotas:
        return None  # nothing limits the namespace: no need to add up what it takes
    return runtime.ledger.admit(namespace, server.metadata.uid or "", more, quotas, lookups.namespace_usage(namespace))
