"""One pass over one ElasticCloudServer: resolve references, observe, plan, take at most one step.

Runs in a worker thread (provider calls block). Reads come from the inventory cache; the backend is
asked directly only where the cache could be stale: right after a task, and before any create.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from herder import kube
from herder.api import ElasticCloudServer, ResourcePool, format_mib
from herder.controllers import capture_hold
from herder.controllers.image_access import image_for
from herder.controllers.lookups import Lookups, zone_and_provider
from herder.controllers.runtime import ProviderHandle, Runtime
from herder.controllers.status import new_status
from herder.controllers.zone_choice import candidates, image_provider, request_for
from herder.providers.base import ProviderError
from herder.providers.types import ObservedServer, PowerState, TaskRef, TaskResult, TaskStatus
from herder.reconcile.conditions import Condition, summary
from herder.reconcile.desired import (
    PAUSED_ANNOTATION,
    RECREATE_ANNOTATION,
    CaptureHold,
    Resolved,
    Unresolvable,
    annotation_set,
    image_ref,
    server_spec,
)
from herder.reconcile.scheduling import choose_zone
from herder.reconcile.selectors import selector_matches
from herder.reconcile.server import (
    COMPENSATE,
    GUEST_SHUTDOWN,
    PROVISIONED,
    RETRIED_FAILURES,
    Desired,
    Plan,
    Recorded,
    Step,
    plan,
)

log = logging.getLogger(__name__)
TASK_POLL_MIN_SECONDS = 0.2
TASK_POLL_MAX_SECONDS = 2.0
WARM_UP_RETRY_SECONDS = 10.0
# A guest OS that has not shut down by then is not going to (no VMware Tools, a hung shutdown): PowerFailed.
GUEST_SHUTDOWN_TIMEOUT_SECONDS = 300.0
_CHANGES = frozenset({Step.RECONFIGURE, Step.POWER, Step.ADOPT, Step.DESTROY_FAILED_CREATE,
                      Step.DESTROY_FOR_RECREATE, Step.RELOCATE})
MAX_IPS = 16


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    delay: float | None  # None: sleep until something changes
    failed: bool = False  # the pass ended in an error (counted in herder_reconcile_total)


def resolve(runtime: Runtime, server: ElasticCloudServer, lookups: Lookups) -> tuple[Resolved, ProviderHandle]:
    namespace = server.metadata.namespace or ""
    zone_name = server.spec.availability_zone or server.status.zone or _choose_zone(runtime, server, lookups)
    zone, handle = zone_and_provider(runtime, lookups, zone_name)
    if not server.status.unique_id and not selector_matches(zone.spec.allowed_namespaces,
                                                            lookups.namespace_labels(namespace)):
        raise Unresolvable("ZoneNotAllowed", f"AvailabilityZone {zone_name} does not allow namespace {namespace} "
                           "(spec.allowedNamespaces)")
    wanted = server.spec.image
    # Visibility (own namespace / namespaceSelector) and the template the image resolved: image_access.
    image = (image_for(namespace, wanted.kind, wanted.name, lookups, provisioned=bool(server.status.unique_id))
             if wanted is not None else None)
    holder = image_provider(server.spec, namespace, lookups)
    ref = zone.spec.provider
    if wanted is not None and not server.status.unique_id and holder not in {None, (ref.kind.value, ref.name)}:
        kind, name = holder or ("", "")
        raise Unresolvable("ImageNotInZone", f"{wanted.kind.value} {wanted.name} is on {kind} {name}, but zone "
                           f"{zone_name} is on {ref.kind.value} {ref.name}: a template is cloned on its own backend")
    pool_path = None
    if server.spec.resource_pool:
        pool = lookups.pool(server.spec.resource_pool)
        if pool is None:
            raise Unresolvable("ResourcePoolNotFound", f"ResourcePool {server.spec.resource_pool} not found")
        check_pool(server, pool, zone_name, lookups)  # zone and spec.allowedNamespaces
        pool_path = (pool.get("status") or {}).get("path")
        if not pool_path:
            raise Unresolvable("ResourcePoolNotReady", f"ResourcePool {server.spec.resource_pool} is not ready")
    return Resolved(server, zone, image, handle.datacenter, pool_path), handle


def check_pool(server: ElasticCloudServer, pool: dict[str, Any], zone: str, lookups: Lookups) -> None:
    """The ECS's ResourcePool must be in its zone and admit its namespace (spec.allowedNamespaces)."""
    name, namespace = server.spec.resource_pool, server.metadata.namespace or ""
    spec = ResourcePool.model_validate(pool).spec
    if spec.zone != zone:
        raise Unresolvable("ResourcePoolInvalid", f"ResourcePool {name} is in zone {spec.zone}, not {zone}")
    if not selector_matches(spec.allowed_namespaces, lookups.namespace_labels(namespace)):
        raise Unresolvable("ResourcePoolNotAllowed",
                           f"ResourcePool {name} does not allow namespace {namespace} (spec.allowedNamespaces)")


def _choose_zone(runtime: Runtime, server: ElasticCloudServer, lookups: Lookups) -> str:
    """The scheduler's zone for an ECS that names none (herder.reconcile.scheduling); posts an Event once.
    The choice is recorded in status.zone and kept from then on."""
    namespace = server.metadata.namespace or ""
    choice = choose_zone(request_for(server.spec, namespace, lookups), candidates(runtime, lookups, namespace))
    if choice.zone is None:
        raise Unresolvable(choice.reason, choice.message)
    uid = server.metadata.uid or ""
    if _announced.get(uid) != choice.zone:
        _announced[uid] = choice.zone
        body = {"apiVersion": server.api_version, "kind": server.kind,
                "metadata": {"name": server.metadata.name, "namespace": namespace, "uid": uid}}
        with contextlib.suppress(LookupError):  # outside a running operator there is no event queue
            kopf.event(cast(kopf.Body, body), type="Normal", reason="ZoneChosen", message=choice.message[:1000])
        log.info("ECS %s/%s: %s", namespace, server.metadata.name, choice.message)
    return choice.zone


_announced: dict[str, str] = {}  # ECS uid -> the zone whose choice was posted as an Event


def _pinned(server: ElasticCloudServer) -> dict[str, Any]:
    """Desired's placement fields: what spec.placement pins."""
    pinned = server.spec.placement
    return {"pinned_host": pinned.host if pinned else None,
            "pinned_datastore": pinned.datastore if pinned else None}


def _held(runtime: Runtime, server: ElasticCloudServer, generation: int) -> Condition | None:
    """The step failure (this generation) whose backoff has not run out yet; None once it is due again."""
    if not runtime.backoff.holding(server.metadata.uid or ""):
        return None
    for cond in server.status.conditions or ():
        if cond.reason in RETRIED_FAILURES and cond.status.value == "False" and cond.observed_generation == generation:
            return Condition(cond.type, False, cond.reason, cond.message or "")
    return None


def _recorded(server: ElasticCloudServer) -> Recorded:
    status = server.status
    task = status.pending_task
    return Recorded(unique_id=status.unique_id, ref=status.managed_object_id,
                    pending_task=TaskRef(task.id, task.operation) if task else None)


def _observe(handle: ProviderHandle, recorded: Recorded, uid: str,
             task: TaskResult | None) -> tuple[ObservedServer | None, bool]:
    """(the VM, whether it was read just now). The watch cache, unless a task just ended or we have not
    seen our VM yet."""
    fresh_needed = task is not None and task.status is not TaskStatus.RUNNING
    if not fresh_needed:
        cache = handle.provider.inventory.snapshot()
        owned = [s for s in cache.values() if s.owner_uid == uid]
        cached = next((cache[key] for key in (recorded.unique_id, uid) if key and key in cache),
                      owned[0] if len(owned) == 1 else None)
        if cached is not None:
            # The watch leaves devices out; the first pass after start-up reads them once.
            return (cached, False) if cached.disks_known else (_read_now(handle, uid, cached.ref), True)
        if not recorded.unique_id and not recorded.pending_task:
            return None, False  # never created: a create step looks again, directly, before it clones
    ref = (task.result_ref if task else None) or recorded.ref
    return _read_now(handle, uid, ref), True


def _read_now(handle: ProviderHandle, uid: str, ref: str | None) -> ObservedServer | None:
    """Read the VM from the backend (and into the cache) instead of trusting the feed to have caught up."""
    if ref:
        server = handle.provider.inventory.refresh(ref)
        if server is not None and uid in {server.unique_id, server.owner_uid}:
            return server
    return handle.provider.servers.find(uid, ref)


def _user_data(server: ElasticCloudServer) -> str | None:
    guest = server.spec.guest
    if guest is None or guest.user_data is None:
        return None
    ref = guest.user_data
    key = ref.key or "userData"
    try:
        return kube.read_secret(server.metadata.namespace or "", ref.name, (key,))[key]
    except kube.SecretUnavailable as exc:
        raise Unresolvable("UserDataUnavailable", f"spec.guest.userData: {exc}") from None


def _execute(p: Plan, resolved: Resolved, handle: ProviderHandle,
             observed: ObservedServer | None) -> tuple[TaskRef | None, ObservedServer | None]:
    servers = handle.provider.servers
    spec = server_spec(resolved)
    if p.step is Step.CREATE:
        existing = servers.find(spec.uid)
        if existing is not None:
            return None, existing  # a create before a crash already made it
        return servers.create(replace(spec, user_data=_user_data(resolved.server))), None
    if observed is None:
        return None, None
    if p.step is Step.ADOPT:
        servers.adopt(observed, spec.uid)
        # Re-read it into the cache: the owner mark is what routes this VM's drift to this ECS (its UUID is
        # not the ECS's), and not every backend reports a custom-field change on its watch (vcsim does not).
        return None, handle.provider.inventory.refresh(observed.ref) or observed
    if p.step is Step.RECONFIGURE:
        return servers.reconfigure(observed, p.change), observed
    if p.step is Step.POWER and p.power is not None:
        return servers.set_power(observed, p.power, graceful=p.graceful), observed
    if p.step is Step.RELOCATE:
        return servers.relocate(observed, *p.relocate), observed
    if p.step is Step.DESTROY_FAILED_CREATE:
        task = servers.destroy(observed)
        return (task if task.id.startswith("done:") else replace(task, operation=COMPENSATE)), observed
    if p.step is Step.DESTROY_FOR_RECREATE:
        return servers.destroy(observed), observed
    return None, observed


def _age(server: ElasticCloudServer, pending: TaskRef) -> float:
    """Seconds since status recorded `pending`; 0 for a task started in this pass."""
    recorded = server.status.pending_task
    if recorded is None or recorded.id != pending.id:
        return 0.0
    return (datetime.now(UTC) - recorded.started_at).total_seconds()


def _poll_delay(server: ElasticCloudServer, pending: TaskRef) -> float:
    """Follow a task closely while it is young and every few seconds once it is long: a quarter of its age."""
    return min(TASK_POLL_MAX_SECONDS, max(TASK_POLL_MIN_SECONDS, _age(server, pending) / 4))


def _task(handle: ProviderHandle, server: ElasticCloudServer, pending: TaskRef) -> TaskResult:
    result = handle.provider.servers.task(pending)
    if (result.status is TaskStatus.RUNNING and pending.operation == GUEST_SHUTDOWN
            and _age(server, pending) > GUEST_SHUTDOWN_TIMEOUT_SECONDS):
        return TaskResult(TaskStatus.FAILED, error=f"the guest OS did not shut down within "
                          f"{GUEST_SHUTDOWN_TIMEOUT_SECONDS:.0f}s (are VMware Tools running?); retried with "
                          "backoff. An image with powerPolicy PowerOff or Live captures it without the guest")
    return result


def _phase(p: Plan, observed: ObservedServer | None, pending: TaskRef | None) -> str:
    reasons = {c.type: c.reason for c in p.conditions}
    if reasons.get(PROVISIONED) == "VMMissing":
        return "Lost"
    if reasons.get(PROVISIONED) == "CreateFailed":
        return "Failed"
    if observed is None:
        return "Provisioning" if pending else "Pending"
    return {PowerState.ON: "Running", PowerState.OFF: "Stopped", PowerState.SUSPENDED: "Suspended"}[observed.power]


def _fields(server: ElasticCloudServer, resolved: Resolved | None, observed: ObservedServer | None,  # noqa: PLR0917
            pending: TaskRef | None, p: Plan | None, hold: CaptureHold | None = None) -> dict[str, Any]:
    status = server.status
    stopped = observed is not None and observed.power is PowerState.OFF and pending is None
    fields: dict[str, Any] = {
        "pendingTask": {"id": pending.id, "operation": pending.operation,
                        "startedAt": _started_at(server, pending)} if pending else None,
        "stoppedForCapture": hold.annotation() if hold is not None and stopped else None,
    }
    if resolved is not None:
        fields["zone"] = resolved.zone.metadata.name
        fields["resourcePool"] = server.spec.resource_pool
    if observed is not None and not (p is not None and p.forget_identity):
        fields |= {
            "uniqueID": observed.unique_id, "managedObjectID": observed.ref, "host": observed.host,
            "datastore": observed.datastore, "powerState": observed.power.value,
            "ipAddresses": list(observed.ip_addresses[:MAX_IPS]) or None, "cpu": observed.cpu,
            "memory": format_mib(observed.memory_mib),
            "disks": [{"name": "os" if d.is_os_disk else (d.name or d.key), "size": str(d.size_bytes)}
                      for d in observed.disks] or None,
            "image": status.image or image_ref(server.spec),
        }
    elif p is not None and p.forget_identity:
        fields |= {"uniqueID": None, "managedObjectID": None, "image": None}
    if p is not None:
        fields["phase"] = _phase(p, observed, pending)
    return fields


def _started_at(server: ElasticCloudServer, pending: TaskRef) -> str:
    recorded = server.status.pending_task
    if recorded is not None and recorded.id == pending.id:
        return recorded.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sync_server(runtime: Runtime, body: dict[str, Any], lookups: Lookups) -> Outcome:
    server = ElasticCloudServer.model_validate(body)
    uid = server.metadata.uid or ""
    generation = server.metadata.generation or 0
    current = body.get("status") or {}
    recorded = _recorded(server)
    try:
        resolved, handle = resolve(runtime, server, lookups)
        task = _task(handle, server, recorded.pending_task) if recorded.pending_task else None
        observed, fresh = _observe(handle, recorded, uid, task)
        adopt = server.spec.adopt_from.unique_id if server.spec.adopt_from else None
        if observed is None and adopt and not recorded.unique_id:
            observed, fresh = handle.provider.servers.find_by_unique_id(adopt), True
        desired = Desired(
            spec=server_spec(resolved), paused=annotation_set(server, PAUSED_ANNOTATION),
            recreate_requested=annotation_set(server, RECREATE_ANNOTATION), adopt_unique_id=adopt,
            power_cycle_allowed=server.spec.power_cycle_policy.value == "Automatic",
            image_changed=bool(server.status.image and server.status.image != image_ref(server.spec)),
            held=_held(runtime, server, generation), capture_hold=capture_hold.live(
                server.metadata.annotations, server.metadata.namespace or "", server.metadata.name or "", lookups),
            **_pinned(server),
        )
        p = plan(desired, observed, recorded, task)
        if p.step in _CHANGES and observed is not None and not fresh:
            # The cache decides that nothing needs doing; before changing the VM, confirm with a fresh read
            # of the same VM (found by identity already: it may not carry our mark yet, e.g. to adopt).
            observed = handle.provider.inventory.refresh(observed.ref)
            p = plan(desired, observed, recorded, task)
        if p.step not in {Step.NONE, Step.WAIT}:
            log.info("ECS %s/%s: %s %s", server.metadata.namespace, server.metadata.name, p.step.value,
                     p.power or p.change if p.step in {Step.POWER, Step.RECONFIGURE} else "")
        new_task, observed = _execute(p, resolved, handle, observed)
    except (Unresolvable, ProviderError) as exc:
        if exc.reason == "ProviderNotReady" and runtime.warming_up():
            return Outcome(dict(current), WARM_UP_RETRY_SECONDS)  # woken as soon as it connects
        failure = Condition(PROVISIONED if not recorded.unique_id else "ConfigSynced", False, exc.reason, str(exc))
        retry_in, grew = runtime.backoff.retry(uid)
        log.log(logging.INFO if grew else logging.DEBUG, "ECS %s/%s: %s: %s (retry in %.0fs)",
                server.metadata.namespace, server.metadata.name, exc.reason, exc, retry_in)
        fields = _fields(server, None, None, recorded.pending_task, None)
        return Outcome(new_status(current, [failure, summary([failure])], generation, fields), retry_in, failed=True)
    pending = new_task or (None if p.forget_task else recorded.pending_task)
    if pending is not None and pending.id.startswith("done:"):
        pending = None  # the backend had nothing to do
    fields = _fields(server, resolved, observed, pending, p, desired.capture_hold)
    # A task in flight is polled; a failed step is retried when its backoff runs out (nothing else would wake
    # us: vCenter may refuse a power-on for capacity that frees up later); otherwise wait for a change.
    failed = any(c.reason in RETRIED_FAILURES or c.reason == "AdoptTargetNotFound" for c in p.conditions)
    if pending is not None:
        delay: float | None = _poll_delay(server, pending)
    elif failed:
        delay, _ = runtime.backoff.retry(uid)
    else:
        runtime.backoff.succeeded(uid)
        delay = None
    return Outcome(new_status(current, p.conditions, generation, fields), delay, failed=failed)
