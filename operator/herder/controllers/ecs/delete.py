"""Deleting an ElasticCloudServer: Delete destroys the VM, Orphan unmarks it. Never hangs on a gone VM.

Every pass re-finds the VM directly on the backend, so a crash at any point simply repeats the pass.
"""

from __future__ import annotations

from typing import Any

from herder.api import AvailabilityZone, ElasticCloudServer
from herder.controllers.ecs.sync import recorded_of
from herder.controllers.shared import tasks
from herder.controllers.shared.deletion import RETRY_SECONDS, TASK_WAIT_SECONDS, Deletion
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.errors import ProviderError
from herder.providers.types import Operation, TaskRef, TaskStatus
from herder.reconcile.ecs import Fate, fate

__all__ = ["RETRY_SECONDS", "TASK_WAIT_SECONDS", "Deletion", "delete_server"]


def delete_server(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Deletion:
    server = ElasticCloudServer.model_validate(body)
    uid = server.metadata.uid or ""
    label = f"{server.metadata.namespace}/{server.metadata.name}"
    zone_name = server.status.zone or server.spec.availability_zone
    zone_body = lookups.zone(zone_name) if zone_name else None
    policy = server.spec.deletion_policy
    if zone_body is None:
        if fate(policy, zone_exists=False, recorded=recorded_of(server), vm=None) is Fate.NEVER_CREATED:
            return Deletion(True, f"{label}: no VM was ever created")
        return Deletion(True, f"{label}: zone {zone_name} is gone; VM {server.status.unique_id} cannot be reached "
                              "and is left as it is")
    provider = AvailabilityZone.model_validate(zone_body).spec.provider
    handle = runtime.providers.get((provider.kind.value, provider.name))
    never_created = not server.status.unique_id and not server.status.pending_task
    if (handle is None or not handle.ready) and never_created and not runtime.warming_up():
        # Its provider never existed or never became ready, so no create ever started: nothing to wait for. (Right
        # after a start-up providers are still connecting: then it waits, as a crashed create may be unrecorded.)
        runtime.forget(uid)
        return Deletion(True, f"{label}: no VM was ever created ({provider.kind.value} {provider.name} is not "
                              "ready)")
    if handle is None or not handle.ready:
        why = f"{handle.reason}: {handle.message}" if handle else "not connected"
        return Deletion(False, f"{label}: waiting for {provider.kind.value} {provider.name} ({why}); set "
                               "spec.deletionPolicy: Orphan to finish without touching the VM",
                        runtime.backoff.failed(uid))
    vms = handle.provider.vms
    try:
        pending = server.status.pending_task
        operation = Operation(pending.operation) if pending is not None else None
        # A guest shutdown (for a capture) may never end; the destroy powers off anyway, so it is not awaited.
        if (pending is not None and operation is not None and operation is not Operation.GUEST_SHUTDOWN
                and vms.task(TaskRef(pending.id, operation)).status is TaskStatus.RUNNING):
            return Deletion(False, f"{label}: waiting for {pending.operation} task {pending.id} to finish")
        vm = vms.find(uid, server.status.managed_object_id)
        what = fate(policy, zone_exists=True, recorded=recorded_of(server), vm=vm)
        if vm is None or what is Fate.GONE:
            runtime.forget(uid)
            return Deletion(True, f"{label}: no VM left on the backend")
        if what is Fate.ORPHAN:
            vms.release(vm)
            runtime.forget(uid)
            return Deletion(True, f"{label}: VM {vm.name} ({vm.unique_id}) orphaned: left as it is, unmarked")
        status = tasks.wait(vms.task, vms.destroy(vm), TASK_WAIT_SECONDS).status
        if status is TaskStatus.RUNNING:
            return Deletion(False, f"{label}: destroying VM {vm.name}")
        if vms.find(uid, vm.ref) is not None:
            return Deletion(False, f"{label}: VM {vm.name} still exists after destroy ({status}); retrying",
                            runtime.backoff.failed(uid))
    except ProviderError as exc:
        return Deletion(False, f"{label}: {exc.reason}: {exc}", runtime.backoff.failed(uid))
    runtime.forget(uid)
    return Deletion(True, f"{label}: VM {vm.name} ({vm.unique_id}) destroyed")
