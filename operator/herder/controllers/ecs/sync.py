"""One pass over one ElasticCloudServer: resolve references, observe, plan, take at most one step.

Runs in a worker thread (provider calls block). Reads come from the inventory cache; the backend is
asked directly only where the cache could be stale: right after a task, and before any create.

`gather` and `decide` are the pass up to its plan, through the provider's reads only: herder plan runs the
very same two on a read-only provider.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from herder import kube
from herder.api import ElasticCloudServer, format_mib
from herder.api.annotations import PAUSED_ANNOTATION, RECREATE_ANNOTATION, annotation_set
from herder.api.ecs import PowerState
from herder.controllers.ecs import admission, fit
from herder.controllers.ecs.resolve import Announce, observed_pool, resolve
from herder.controllers.image import hold as capture_hold
from herder.controllers.shared.backoff import Backoff
from herder.controllers.shared.daemon import Notice, Pass
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Backends, ProviderHandle, Runtime
from herder.controllers.shared.status import new_status
from herder.controllers.shared.tasks import WATCH_GRACE_SECONDS, SettledTasks, follow_delay, quiet
from herder.errors import HerderError, Refused, SecretUnavailable, Unresolvable
from herder.providers.base import ProviderReads
from herder.providers.types import ObservedVM, Operation, TaskRef, TaskResult, TaskStatus, VMSpec
from herder.reasons import Reason
from herder.reconcile import adoption, guest, metering, nics
from herder.reconcile.capture import CaptureHold
from herder.reconcile.conditions import Condition, summary
from herder.reconcile.ecs import (
    CONFIG_SYNCED,
    PROVISIONED,
    RETRIED_FAILURES,
    Desired,
    Plan,
    Recorded,
    Step,
    drifted,
    phase,
    plan,
    refused,
    retries,
)
from herder.reconcile.narrate import told
from herder.reconcile.pool import CloudRoom
from herder.reconcile.quota import Usage
from herder.reconcile.vm_spec import Resolved, image_ref, pins, pool_target, vm_spec, zone_scope

log = logging.getLogger(__name__)
# A guest OS that has not shut down by then is not going to (no VMware Tools, a hung shutdown): PowerFailed.
GUEST_SHUTDOWN_TIMEOUT_SECONDS = 300.0
_CHANGES = frozenset({Step.RECONFIGURE, Step.POWER, Step.ADOPT, Step.DESTROY_FAILED_CREATE,
                      Step.DESTROY_FOR_RECREATE, Step.RELOCATE})
MAX_IPS = 16


def _placement(resolved: Resolved) -> dict[str, Any]:
    """Desired's placement fields: what spec.placement pins, and the pool the VM belongs in."""
    host, storage = pins(resolved)
    return {"pinned_host": host, "pinned_datastore": storage, "pool": pool_target(resolved)}


def _operation(p: Plan) -> Operation | None:
    """The operation of a step that the backend may refuse when asked; None for the others."""
    if p.step is Step.POWER and p.power is not None:
        return {PowerState.ON: Operation.POWER_ON, PowerState.SUSPENDED: Operation.SUSPEND}.get(
            p.power, Operation.GUEST_SHUTDOWN if p.graceful else Operation.POWER_OFF)
    return {Step.CREATE: Operation.CREATE, Step.RECONFIGURE: Operation.RECONFIGURE,
            Step.RELOCATE: Operation.RELOCATE}.get(p.step)


def _held(backoff: Backoff, server: ElasticCloudServer, generation: int) -> Condition | None:
    """The step failure (this generation) whose backoff has not run out yet; None once it is due again."""
    if not backoff.holding(server.metadata.uid or ""):
        return None
    for cond in server.status.conditions or ():
        reason = Reason.parse(cond.reason)
        if (reason is not None and RETRIED_FAILURES.get(reason) is not None and cond.status.value == "False"
                and cond.observed_generation == generation):
            return Condition(cond.type, False, reason, cond.message or "")
    return None


def recorded_of(server: ElasticCloudServer) -> Recorded:
    """What status records of the VM: its identity and any task in flight."""
    status = server.status
    task = status.pending_task
    return Recorded(unique_id=status.unique_id, ref=status.managed_object_id,
                    pending_task=TaskRef(task.id, Operation(task.operation)) if task else None)


def _observe(reads: ProviderReads, recorded: Recorded, uid: str,
             task: TaskResult | None) -> tuple[ObservedVM | None, bool]:
    """(the VM, whether it was read just now). The watch cache, unless a task failed or was lost (its leftovers
    must be seen as they are) or we have not seen our VM yet. After a task that succeeded the cache may lag:
    planning from it is safe, because any change is confirmed by a fresh read before it is made."""
    fresh_needed = task is not None and task.status not in {TaskStatus.RUNNING, TaskStatus.SUCCEEDED}
    if not fresh_needed:
        cached = reads.inventory.lookup(uid, recorded.unique_id)
        if cached is not None:
            # A reading without devices (none of today's feeds) is completed by a direct read.
            return (cached, False) if cached.disks_known else (_read_now(reads, uid, cached.ref), True)
        if not recorded.unique_id and not recorded.pending_task:
            return None, False  # never created: a create step looks again, directly, before it clones
        if _creating(recorded, task):
            return None, False  # the plan waits for a running create whatever it sees: nothing to read yet
    ref = (task.result_ref if task else None) or recorded.ref
    return _read_now(reads, uid, ref), True


def _creating(recorded: Recorded, task: TaskResult | None) -> bool:
    pending = recorded.pending_task
    return (pending is not None and pending.operation is Operation.CREATE and task is not None
            and task.status is TaskStatus.RUNNING)


def _read_now(reads: ProviderReads, uid: str, ref: str | None) -> ObservedVM | None:
    """Read the VM from the backend (and into the cache) instead of trusting the feed to have caught up."""
    if ref:
        server = reads.inventory.refresh(ref)
        if server is not None and uid in {server.unique_id, server.owner_uid}:
            return server
    return reads.vms.find(uid, ref)


def _first_boot(resolved: Resolved, spec: VMSpec) -> VMSpec:
    """The spec a create passes on, with the values of the Secrets its guest setup names, read now (a create is the
    guest's first boot; they are never read again for it). What cannot be made was refused by the planner."""
    server = resolved.server
    wanted = server.spec.guest
    values: dict[str, dict[str, str]] = {}
    for read in guest.secret_reads(wanted):
        try:
            values[read.field] = kube.read_secret(server.metadata.namespace or "", read.secret, read.keys)
        except SecretUnavailable as exc:
            raise Unresolvable(read.reason, f"{read.field}: {exc}") from None
    return replace(spec, guest=guest.with_secrets(spec.guest, values))


def _execute(p: Plan, resolved: Resolved, handle: ProviderHandle,
             observed: ObservedVM | None) -> tuple[TaskRef | None, ObservedVM | None]:
    vms = handle.provider.vms
    spec = vm_spec(resolved)
    if p.step is Step.CREATE:
        existing = vms.find(spec.uid)
        if existing is not None:
            return None, existing  # a create before a crash already made it
        return vms.create(_first_boot(resolved, spec)), None
    if observed is None:
        return None, None
    if p.step is Step.ADOPT:
        vms.adopt(observed, spec.uid)
        # Re-read it into the cache: the owner mark is what routes this VM's drift to this ECS (its UUID is
        # not the ECS's), and not every backend reports a custom-field change on its watch (vcsim does not).
        return None, handle.provider.inventory.refresh(observed.ref) or observed
    if p.step is Step.RECONFIGURE:
        return vms.reconfigure(observed, p.change), observed
    if p.step is Step.POWER and p.power is not None:
        return vms.set_power(observed, p.power, graceful=p.graceful), observed
    if p.step is Step.RELOCATE:
        return vms.relocate(observed, p.relocate, zone_scope(resolved)), observed
    if p.step is Step.DESTROY_FAILED_CREATE:
        task = vms.destroy(observed)
        return (task if task.finished else replace(task, operation=Operation.COMPENSATE)), observed
    if p.step is Step.DESTROY_FOR_RECREATE:
        return vms.destroy(observed), observed
    return None, observed


def _age(server: ElasticCloudServer, pending: TaskRef) -> float:
    """Seconds since status recorded `pending`; 0 for a task started in this pass."""
    recorded = server.status.pending_task
    if recorded is None or recorded.id != pending.id:
        return 0.0
    return (datetime.now(UTC) - recorded.started_at).total_seconds()


def _task(reads: ProviderReads, server: ElasticCloudServer, pending: TaskRef, settled: SettledTasks | None,
          backend: str) -> tuple[TaskResult, float | None]:
    """How the recorded task is going; for a success seen before, also the seconds since (`settled` remembers
    successes, so a pass that waits for the watch does not ask the backend again)."""
    key = (backend, pending.id)
    remembered = settled.recall(key) if settled is not None else None
    if remembered is not None:
        return remembered
    result = reads.vms.task(pending)
    if (result.status is TaskStatus.RUNNING and pending.operation is Operation.GUEST_SHUTDOWN
            and _age(server, pending) > GUEST_SHUTDOWN_TIMEOUT_SECONDS):
        return TaskResult(TaskStatus.FAILED, error=f"the guest OS did not shut down within "
                          f"{GUEST_SHUTDOWN_TIMEOUT_SECONDS:.0f}s (are VMware Tools running?); retried with "
                          "backoff. An image with powerPolicy PowerOff or Live captures it without the guest"), None
    if result.status is TaskStatus.SUCCEEDED and settled is not None:
        settled.remember(key, result)
        return result, 0.0
    return result, None


def _awaiting_watch(reads: ProviderReads, recorded: Recorded, uid: str, task: TaskResult | None,
                    succeeded_for: float | None) -> float | None:
    """Seconds left to wait for the watch to bring the VM of a create that succeeded a moment ago (the watch
    wakes the server when it does); None when there is nothing to wait for, or the wait is over: then the VM
    is read directly."""
    pending = recorded.pending_task
    if (task is None or task.status is not TaskStatus.SUCCEEDED or succeeded_for is None or pending is None
            or pending.operation is not Operation.CREATE):
        return None
    if reads.inventory.lookup(uid, recorded.unique_id) is not None:
        return None
    left = WATCH_GRACE_SECONDS - succeeded_for
    return left if left > 0 else None


def _fields(server: ElasticCloudServer, resolved: Resolved | None, observed: ObservedVM | None,  # noqa: PLR0917
            pending: TaskRef | None, p: Plan | None, hold: CaptureHold | None = None, *,
            pool: str | None = None) -> dict[str, Any]:
    """Status fields from what was observed; `pool`: the ResourcePool the VM is in, as the backend shows it."""
    status = server.status
    stopped = observed is not None and observed.power is PowerState.OFF and pending is None
    fields: dict[str, Any] = {
        "pendingTask": {"id": pending.id, "operation": pending.operation,
                        "startedAt": _started_at(server, pending)} if pending else None,
        "stoppedForCapture": hold.annotation() if hold is not None and stopped else None,
    }
    if resolved is not None:
        fields["zone"] = resolved.zone.metadata.name
        fields["resourcePool"] = pool
    if observed is not None and not (p is not None and p.forget_identity):
        fields |= {
            "uniqueID": observed.unique_id, "managedObjectID": observed.ref, "host": observed.host,
            "datastore": observed.datastore, "powerState": observed.power.value,
            "ipAddresses": list(observed.ip_addresses[:MAX_IPS]) or None, "hostname": observed.hostname,
            "guestOS": observed.guest_os, "networks": [
                {"network": n.network, "macAddress": n.mac, "vlan": n.vlan,
                 "ipAddresses": list(n.addresses[:MAX_IPS]) or None} for n in observed.nics] or None,
            "cpu": observed.cpu,
            "memory": format_mib(observed.memory_mib),
            "disks": [{"name": "os" if d.is_os_disk else (d.name or d.key), "size": str(d.size_bytes)}
                      for d in observed.disks] or None,
            "image": status.image or image_ref(server.spec),
        }
    elif p is not None and p.forget_identity:
        fields |= {"uniqueID": None, "managedObjectID": None, "image": None}
    if p is not None:
        fields["phase"] = phase(p, observed, pending)
    return fields


def _metered(recorded: dict[str, Any] | None, observed: ObservedVM | None) -> dict[str, Any] | None:
    """status.metering after this observation: unchanged unless the size or power changed; a VM that is not
    there (never made, vanished, being re-made) accrues nothing."""
    previous = metering.from_status(recorded)
    if observed is None:
        if previous is None:
            return None
        size = metering.Size(0, 0, 0, running=False)
    else:
        size = metering.Size(observed.cpu, observed.memory_mib * 2**20, sum(d.size_bytes for d in observed.disks),
                             running=observed.power is PowerState.ON)
    return metering.to_status(metering.observe(previous, size, datetime.now(UTC)))


def _started_at(server: ElasticCloudServer, pending: TaskRef) -> str:
    recorded = server.status.pending_task
    if recorded is not None and recorded.id == pending.id:
        return recorded.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Inputs:
    """What one pass plans from: the ECS with everything it references, and its VM as the backend shows it."""

    server: ElasticCloudServer
    resolved: Resolved
    reads: ProviderReads
    recorded: Recorded
    task: TaskResult | None  # how the recorded task is going
    observed: ObservedVM | None
    fresh: bool  # `observed` was read from the backend just now (not the watch cache)
    desired: Desired
    quotas: admission.Quotas
    cloud: CloudRoom | None = None  # the ResourcePool's VMM cloud, by the pool's status (SCVMM)
    awaiting_watch: float | None = None  # a create just succeeded: seconds to wait for the watch to bring its VM


def _adoption_target(reads: ProviderReads, resolved: Resolved, unique_id: str,
                     lookups: Lookups) -> tuple[ObservedVM | None, str | None]:
    """(the VM to adopt, read now, or None; why it may not be adopted). A refused VM is not observed: nothing of
    it reaches this server's status, and no step is planned on it."""
    target = reads.vms.find_by_unique_id(unique_id)
    if target is None:
        return None, None
    uid = resolved.server.metadata.uid or ""
    why = adoption.refused(resolved.zone, target, reads.vms.locate(target), uid, lookups.claimants(target.unique_id))
    return (None, why) if why else (target, None)


def gather(backends: Backends, body: dict[str, Any], lookups: Lookups, announce: Announce | None = None,
           settled: SettledTasks | None = None) -> Inputs:
    """Resolve the ECS's references and observe its VM (the one to adopt, with the adoption checks), through
    reads only. With `settled` (the operator's memory of tasks seen succeeded), the VM of a create that just
    succeeded is left to the watch for a moment (`Inputs.awaiting_watch`) instead of being read at once.
    Raises HerderError when a reference cannot be followed or the backend fails."""
    server = ElasticCloudServer.model_validate(body)
    uid = server.metadata.uid or ""
    generation = server.metadata.generation or 0
    recorded = recorded_of(server)
    resolved, reads = resolve(backends, server, lookups, announce)
    task, succeeded_for = None, None
    if recorded.pending_task:
        provider = resolved.zone.spec.provider
        task, succeeded_for = _task(reads, server, recorded.pending_task, settled,
                                    f"{provider.kind.value}/{provider.name}")
    awaiting = _awaiting_watch(reads, recorded, uid, task, succeeded_for)
    observed, fresh = (None, False) if awaiting is not None else _observe(reads, recorded, uid, task)
    restoring = lookups.restore_hold(server.metadata.namespace or "", server.metadata.name or "")
    if server.status.restoring and restoring is None and observed is not None and not fresh:
        # A restore just ended: see the VM as the revert left it, not as the feed last reported it.
        observed, fresh = reads.inventory.refresh(observed.ref) or observed, True
    adopt = server.spec.adopt_from.unique_id if server.spec.adopt_from else None
    refused = None
    if observed is None and adopt and not recorded.unique_id and awaiting is None:
        (observed, refused), fresh = _adoption_target(reads, resolved, adopt, lookups), True
    spec = vm_spec(resolved)
    # A VM not made yet whose NICs take addresses from static IP pools: do the pools have them?
    creating = observed is None and not adopt and not recorded.unique_id and not recorded.pending_task
    addresses = (nics.address_refusal(spec.networks, reads.vms.address_pools(spec.networks))
                 if creating and any(nic.static for nic in spec.networks) else None)
    desired = Desired(
        spec=spec, create_refused=guest.refusal(server.spec.guest, spec), address_refused=addresses,
        paused=annotation_set(server.metadata.annotations, PAUSED_ANNOTATION),
        recreate_requested=annotation_set(server.metadata.annotations, RECREATE_ANNOTATION), adopt_unique_id=adopt,
        power_cycle_allowed=server.spec.power_cycle_policy.value == "Automatic",
        image_changed=bool(server.status.image and server.status.image != image_ref(server.spec)),
        held=_held(backends.backoff, server, generation), adoption_refused=refused, capture_hold=capture_hold.live(
            server.metadata.annotations, server.metadata.namespace or "", server.metadata.name or "", lookups),
        restoring=restoring,
        **_placement(resolved),
    )
    return Inputs(server, resolved, reads, recorded, task, observed, fresh, desired, admission.read(server, lookups),
                  fit.cloud_of(resolved, lookups), awaiting)


@dataclass(frozen=True)
class Decision:
    plan: Plan
    observed: ObservedVM | None  # the VM it was planned on
    desired: Desired  # with the ServerQuotas' refusal, if they refuse
    growth: Usage | None  # what the step would have the server take more of: asked of the ServerQuotas


def decide(inputs: Inputs) -> Decision:
    """The planner's step, and the VM it was planned on: a change planned on a cached reading is confirmed on
    a fresh read of the same VM first (found by identity already: it may not carry our mark yet, e.g. to
    adopt). A step that makes the server take more is admitted against the namespace's ServerQuotas (by
    stored status); refused, the planner is asked again with the refusal (no create, adoption or growth).

    A create or move to a pinned host or storage outside the zone is refused (PlacementNotInZone: the planner is
    asked again without it); a create, a move into a ResourcePool's VMM cloud or a resize there that the cloud's
    capacity has no room for fails as VMM would refuse it (CreateFailed, MigrationFailed, ReconfigureFailed),
    retried on its backoff."""
    observed, desired = inputs.observed, inputs.desired
    p = plan(desired, observed, inputs.recorded, inputs.task)
    if p.step in _CHANGES and observed is not None and not inputs.fresh:
        observed = inputs.reads.inventory.refresh(observed.ref)
        p = plan(desired, observed, inputs.recorded, inputs.task)
    outside = fit.outside_zone(inputs.reads, inputs.resolved, desired, p)
    if outside:
        desired = replace(desired, placement_refused=outside)
        p = plan(desired, observed, inputs.recorded, inputs.task)
    growth = admission.wanted(inputs.server, observed, p.step, inputs.quotas.image_bytes)
    over = admission.refused(inputs.server, growth, inputs.quotas) if growth is not None else None
    if over:
        desired = replace(desired, quota_refused=over)
        p = plan(desired, observed, inputs.recorded, inputs.task)
    full = fit.cloud_full(inputs.cloud, p, desired, observed)
    operation = _operation(p)
    if full and operation is not None:
        p = refused(operation, full, observed if p.step is not Step.CREATE else None)
    return Decision(p, observed, desired, growth)


def sync_server(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    """One pass; raises HerderError when a reference cannot be followed or the backend fails (see
    `server_failed`). A server that is adopting a VM holds the adoption lock from the owner-mark check to the
    mark, so two servers never take the same VM."""
    server = ElasticCloudServer.model_validate(body)
    adopting = server.spec.adopt_from is not None and not server.status.unique_id
    with runtime.adoption_lock if adopting else contextlib.nullcontext():
        return _sync(runtime, body, lookups)


def _sync(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Pass:
    inputs = gather(runtime, body, lookups, settled=runtime.settled_tasks)
    if inputs.awaiting_watch is not None:
        # Nothing to plan yet: the status stays as it is (unwritten while the task is young), no call is made.
        return Pass(dict(body.get("status") or {}), inputs.awaiting_watch, quiet=True)
    server, recorded, resolved = inputs.server, inputs.recorded, inputs.resolved
    uid = server.metadata.uid or ""
    generation = server.metadata.generation or 0
    decision = decide(inputs)
    p, observed, desired = decision.plan, decision.observed, decision.desired
    if decision.growth is not None:
        # The ledger has the last word: it also counts what this process granted since the statuses were written.
        granted = admission.grant(runtime, server, decision.growth, inputs.quotas)
        if granted != desired.quota_refused:
            desired = replace(desired, quota_refused=granted)
            p = plan(desired, observed, recorded, inputs.task)
    if server.status.restoring and desired.restoring is None:
        restored(server, p)
    provider = resolved.zone.spec.provider
    handle = runtime.ready_provider(provider.kind.value, provider.name)
    if p.step not in {Step.NONE, Step.WAIT}:
        log.info("ECS %s/%s: %s %s", server.metadata.namespace, server.metadata.name, p.step.value,
                 p.power or p.change if p.step in {Step.POWER, Step.RECONFIGURE} else "")
    # A restore that holds the server changes its VM itself: that is not drift (RevertedOffSpec says what differs).
    drift = (drifted(server.status.model_dump(mode="json", by_alias=True, exclude_none=True), observed, desired.spec)
             if observed is not None and inputs.fresh is False and not recorded.pending_task
             and server.status.observed_generation == generation and desired.restoring is None else [])
    planned_on = observed
    try:
        new_task, observed = _execute(p, resolved, handle, observed)
    except Refused as exc:
        operation = _operation(p)
        if operation is None:
            raise
        log.info("ECS %s/%s: %s refused: %s", server.metadata.namespace, server.metadata.name, operation, exc)
        p, new_task = refused(operation, str(exc), observed if p.step is not Step.CREATE else None), None
    pending = new_task or (None if p.forget_task else recorded.pending_task)
    if pending is not None and pending.finished:
        pending = None  # the backend had nothing to do
    fields = _fields(server, resolved, observed, pending, p, desired.capture_hold,
                     pool=observed_pool(observed, resolved.zone.metadata.name or "", lookups))
    # The restore's go-ahead: no task of this server's own is in flight any more.
    fields["restoring"] = desired.restoring[0] if desired.restoring is not None and pending is None else None
    fields["metering"] = _metered((body.get("status") or {}).get("metering"), observed if not p.forget_identity
                                  else None)
    # A task in flight is followed; a failed step is retried when its backoff runs out; otherwise wait.
    failed = retries(p)
    if pending is not None:
        delay: float | None = follow_delay(_age(server, pending))
    elif failed:
        delay, _ = runtime.backoff.retry(uid)
    else:
        runtime.backoff.succeeded(uid)
        delay = None
    notices: tuple[Notice, ...] = (Notice("Warning", "Drift", "changed out of band: " + "; ".join(drift)
                                   + ("; correcting" if p.step is not Step.NONE else "")),) if drift else ()
    if p.step not in {Step.NONE, Step.WAIT}:
        # Each step taken is an Event, in the words herder plan uses for it.
        said = told(p, planned_on, desired, zone=resolved.zone.metadata.name or "", pool=server.spec.resource_pool,
                    image=image_ref(server.spec))
        notices += (Notice("Normal", said.do, said.summary),)
    return Pass(new_status(body.get("status") or {}, p.conditions, generation, fields), delay, failed=failed,
                notices=notices, quiet=pending is not None and quiet(_age(server, pending)))


def restored(server: ElasticCloudServer, p: Plan) -> None:
    """The first pass after a restore: say so if the revert left the server off its spec (it is put back)."""
    differ = [c for c in p.conditions if c.type == CONFIG_SYNCED and not c.status]
    if not differ:
        return
    body = {"apiVersion": server.api_version, "kind": server.kind,
            "metadata": {"name": server.metadata.name, "namespace": server.metadata.namespace,
                         "uid": server.metadata.uid}}
    message = f"after the restore the server differs from its spec: {differ[0].message}"
    log.info("ECS %s/%s: %s", server.metadata.namespace, server.metadata.name, message)
    with contextlib.suppress(LookupError):  # outside a running operator there is no event queue
        kopf.event(cast(kopf.Body, body), type="Normal", reason="RevertedOffSpec", message=message[:1000])


def server_failed(runtime: Runtime, body: dict[str, Any], exc: HerderError) -> Pass:
    """A pass that could not get as far as a plan: report why on the aspect it blocks, retry with backoff."""
    server = ElasticCloudServer.model_validate(body)
    uid = server.metadata.uid or ""
    recorded = recorded_of(server)
    failure = Condition(PROVISIONED if not recorded.unique_id else CONFIG_SYNCED, False, exc.reason, str(exc))
    retry_in, grew = runtime.backoff.retry(uid)
    log.log(logging.INFO if grew else logging.DEBUG, "ECS %s/%s: %s: %s (retry in %.0fs)",
            server.metadata.namespace, server.metadata.name, exc.reason, exc, retry_in)
    fields = _fields(server, None, None, recorded.pending_task, None)
    status = new_status(body.get("status") or {}, [failure, summary([failure])], server.metadata.generation or 0,
                        fields)
    return Pass(status, retry_in, failed=True)
