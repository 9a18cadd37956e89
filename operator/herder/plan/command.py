"""`herder plan`: what applying the input would make herder do, object by object.

1. Read the input; keep herder's objects (namespaced ones without a namespace go to `-n` or the context's).
2. Read the live objects, and ask the API server what it would store for each input object (a dry run: it
   validates and defaults it, and says why it would reject it). Without the rights to dry-run, herder's own
   models validate it instead, and the plan says so.
3. Build the world as it will be (live objects, the input's in their place, the pruned ones gone) and plan
   each object with the planners the operator runs, over read-only backends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from herder.api.metadata import Scope
from herder.api.registry import BY_KIND, KINDS
from herder.plan import images, places, pools, servers, sets, snapshots
from herder.plan.backends import PlanBackends
from herder.plan.cluster import Access, Cluster, Rejected, Unavailable
from herder.plan.context import Context, Outcome
from herder.plan.diff import changes, flatten
from herder.plan.manifests import InvalidInput, Manifest, is_herder, read, with_namespace
from herder.plan.model import Action, Change, ObjectPlan, PlanResult, Problem
from herder.plan.world import Key, World, key_of

Body = dict[str, Any]
# Annotations herder, Kopf and kubectl write themselves: not the user's to compare.
_OWN_ANNOTATIONS = ("kopf.zalando.org/", "herder.dev/last-handled", "kubectl.kubernetes.io/last-applied")


@dataclass(frozen=True)
class Options:
    files: tuple[str, ...]
    recursive: bool = False
    access: Access = field(default_factory=Access)
    namespace: str | None = None
    prune: bool = False
    selector: str | None = None


def _planners(ctx: Context, kind: str) -> tuple[Callable[[Body], Outcome], Callable[[Body], Outcome]] | None:
    """(plan of an applied object, plan of a deleted one) for a kind; None for kinds without a planner."""
    table: dict[str, tuple[Callable[[Body], Outcome], Callable[[Body], Outcome]]] = {
        "ElasticCloudServer": (lambda b: servers.plan_server(ctx, b), lambda b: servers.server_deletion(ctx, b)),
        "ElasticCloudServerSet": (lambda b: sets.plan_server_set(ctx, b)[0], lambda b: sets.set_deletion(ctx, b)),
        "Image": (lambda b: images.plan_image(ctx, "Image", b), lambda b: images.image_deletion(ctx, "Image", b)),
        "ClusterImage": (lambda b: images.plan_image(ctx, "ClusterImage", b),
                         lambda b: images.image_deletion(ctx, "ClusterImage", b)),
        "ResourcePool": (lambda b: pools.plan_pool(ctx, b), lambda b: pools.pool_deletion(ctx, b)),
        "AvailabilityZone": (lambda b: places.plan_zone(ctx, b), lambda b: places.zone_deletion(ctx, b)),
        "VCenter": (lambda b: places.plan_endpoint(ctx, b), lambda b: places.endpoint_deletion(ctx, b)),
        "SCVMM": (lambda b: places.plan_endpoint(ctx, b), lambda b: places.endpoint_deletion(ctx, b)),
        "ServerSnapshot": (lambda b: snapshots.plan_snapshot(ctx, b), lambda b: snapshots.snapshot_deletion(ctx, b)),
        "ServerSnapshotRestore": (lambda b: snapshots.plan_restore(ctx, b),
                                  lambda b: snapshots.restore_deletion(ctx, b)),
    }
    return table.get(kind)


def _candidate(manifest: Body, live: Body | None) -> Body:
    """The object `kubectl apply` would send: the manifest, on top of the live object's identity and the
    annotations and labels it already has."""
    body = copy.deepcopy(manifest)
    if live is None:
        return body
    meta, current = body.setdefault("metadata", {}), live.get("metadata") or {}
    for name in ("uid", "resourceVersion", "generation", "creationTimestamp", "finalizers", "ownerReferences"):
        if name in current:
            meta[name] = current[name]
    meta["annotations"] = {**(current.get("annotations") or {}), **(meta.get("annotations") or {})}
    meta["labels"] = {**(current.get("labels") or {}), **(meta.get("labels") or {})}
    body["status"] = live.get("status")
    return body


def _normal_spec(body: Body) -> Any:
    """The spec as herder reads it (defaults filled in), so a live object and a manifest compare alike."""
    try:
        model = BY_KIND[str(body.get("kind"))].model.model_validate(body)
    except ValidationError:
        return body.get("spec")
    return model.model_dump(mode="json", by_alias=True, exclude_none=True).get("spec")


def _metadata_changes(planned: Body, live: Body | None) -> list[Change]:
    """Labels and annotations the input sets to something else than they are (herder's, Kopf's and kubectl's
    own annotations aside)."""
    found = []
    for part in ("labels", "annotations"):
        wanted = (planned.get("metadata") or {}).get(part) or {}
        current = ((live or {}).get("metadata") or {}).get(part) or {}
        found += [Change(f"metadata.{part}.{key}", current.get(key), value) for key, value in sorted(wanted.items())
                  if not key.startswith(_OWN_ANNOTATIONS) and current.get(key) != value]
    return found


class _Planner:
    """The live objects, and each input object as the API server would store it."""

    def __init__(self, cluster: Cluster, result: PlanResult) -> None:
        self.cluster = cluster
        self.result = result
        self.live: dict[Key, Body] = {}

    def read_live(self) -> None:
        for info in KINDS:
            for body in self.cluster.list(info):
                self.live[key_of(body)] = body

    def validate(self, manifest: Manifest) -> tuple[Body | None, Problem | None]:
        """(the object as it would be stored, or why it would be rejected)."""
        info = BY_KIND[manifest.kind]
        live = self.live.get(key_of(manifest.body))
        candidate = _candidate(manifest.body, live)
        if self.result.server_side_validation:
            try:
                stored = self.cluster.dry_run(info, candidate, exists=live is not None)
            except Rejected as exc:
                return None, Problem("Invalid" if exc.status == 422 else f"Rejected{exc.status}", str(exc))
            except Unavailable as exc:
                self.result.server_side_validation = False
                self.result.validation_note = (f"server-side dry run not possible ({exc}); herder's own schema "
                                               "validated the input instead")
            else:
                return {**stored, "status": live.get("status") if live else stored.get("status")}, None
        try:
            info.model.model_validate(candidate)
        except ValidationError as exc:
            found = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                              for error in exc.errors())
            return None, Problem("Invalid", f"herder's schema rejects it: {found}")
        if live is None:
            candidate.setdefault("metadata", {}).setdefault("generation", 1)
        elif _normal_spec(candidate) != _normal_spec(live):
            candidate["metadata"]["generation"] = int(live["metadata"].get("generation") or 0) + 1
        return candidate, None


def plan(options: Options) -> PlanResult:
    result = PlanResult(objects=[])
    try:
        manifests = read(list(options.files), options.recursive)
    except InvalidInput as exc:
        result.errors.append(Problem("InvalidInput", str(exc)))
        return result
    try:
        cluster = Cluster(options.access)
    except Unavailable as exc:
        result.errors.append(Problem("KubernetesUnavailable", str(exc)))
        return result
    try:
        return _plan(options, cluster, manifests, result)
    except Unavailable as exc:
        result.errors.append(Problem("KubernetesUnavailable", str(exc)))
        return result
    finally:
        cluster.close()


def _plan(options: Options, cluster: Cluster, manifests: list[Manifest], result: PlanResult) -> PlanResult:
    namespace = options.namespace or cluster.default_namespace
    planner = _Planner(cluster, result)
    planner.read_live()
    world = World(planner.live.values(), cluster.namespace_labels())
    entries: list[tuple[ObjectPlan, Body | None, Body | None]] = []  # (plan, planned body, live body)
    for given in manifests:
        if not is_herder(given.body):
            result.ignored.append(f"{given.body.get('kind')} {given.name} ({given.source})")
            continue
        if options.namespace and given.namespace and given.namespace != options.namespace:
            entries.append((_error(given, Problem("NamespaceMismatch", f"the object is in namespace "
                                                  f"{given.namespace}, not -n {options.namespace}")), None, None))
            continue
        manifest = with_namespace(given, namespace)
        planned, problem = planner.validate(manifest)
        if problem is not None or planned is None:
            entries.append((_error(manifest, problem or Problem("Invalid", "rejected")), None, None))
            continue
        live = planner.live.get(key_of(planned))
        world.put(planned)
        entries.append((_object(manifest, live), planned, live))
    pruned = _pruned(options, cluster, manifests, namespace) if options.prune else []
    for body in pruned:
        world.remove(key_of(body))
    backends = PlanBackends(cluster, world)
    ctx = Context(world, backends, {key_of(planned) for _, planned, _ in entries if planned is not None})
    try:
        for entry, planned, live in entries:
            result.objects.append(entry)
            if planned is not None:
                result.objects += _plan_one(ctx, entry, planned, live)
        for body in pruned:
            result.objects.append(_plan_deletion(ctx, body))
    finally:
        backends.close()
        result.backend_requests = {k: dict(v) for k, v in backends.requests.items()}
    return result


def _object(manifest: Manifest, live: Body | None) -> ObjectPlan:
    _, namespace, _ = key_of(manifest.body)
    return ObjectPlan(str(manifest.body.get("apiVersion")), manifest.kind, manifest.name, namespace,
                      Action.CREATE if live is None else Action.NONE, source=manifest.source)


def _error(manifest: Manifest, problem: Problem) -> ObjectPlan:
    _, namespace, _ = key_of(manifest.body)
    return ObjectPlan(str(manifest.body.get("apiVersion")), manifest.kind, manifest.name, namespace,
                      Action.ERROR, source=manifest.source, problems=[problem])


def _plan_one(ctx: Context, entry: ObjectPlan, planned: Body, live: Body | None) -> list[ObjectPlan]:
    """Fill in `entry`; returns further objects it changes (a set's servers updated in place)."""
    before = flatten(_normal_spec(live), "spec") if live is not None else {}
    entry.spec_changes = changes(before, flatten(_normal_spec(planned), "spec")) + _metadata_changes(planned, live)
    extra: list[ObjectPlan] = []
    planners = _planners(ctx, entry.kind)
    if planners is None:
        entry.notes.append("herder plan has no planner for this kind yet: only the object's own changes are shown")
        outcome = Outcome()
    elif entry.kind in {"AvailabilityZone", "VCenter", "SCVMM"} and live is not None and not entry.spec_changes:
        outcome = Outcome()  # unchanged: nothing to check again
    elif entry.kind == "ElasticCloudServerSet":
        outcome, extra = sets.plan_server_set(ctx, planned)
    else:
        outcome = planners[0](planned)
    entry.steps, entry.notes = outcome.steps, entry.notes + outcome.notes
    entry.problems += outcome.problems
    _settle(entry)
    for child in extra:
        _settle(child)
    return extra


def _settle(entry: ObjectPlan) -> None:
    if entry.problems:
        entry.action = Action.ERROR
    elif entry.action is Action.NONE and (entry.spec_changes or any(s.do.changes_backend for s in entry.steps)):
        entry.action = Action.CHANGE


def _pruned(options: Options, cluster: Cluster, manifests: list[Manifest], namespace: str) -> list[Body]:
    """Live objects with the selector's labels that the input does not hold, in the input's namespaces (or -n)
    and, for cluster-scoped kinds, everywhere: what `kubectl apply --prune -l` would delete."""
    kept = {key_of(with_namespace(m, namespace).body) for m in manifests if is_herder(m.body)}
    namespaces = {options.namespace} if options.namespace else (
        {with_namespace(m, namespace).namespace for m in manifests if is_herder(m.body)} - {None} or {namespace})
    found: list[Body] = []
    for info in KINDS:
        scopes = sorted(n for n in namespaces if n) if info.scope is Scope.NAMESPACED else [None]
        for scope in scopes:
            found += [b for b in cluster.list(info, scope, options.selector) if key_of(b) not in kept]
    return found


def _plan_deletion(ctx: Context, body: Body) -> ObjectPlan:
    meta = body.get("metadata") or {}
    entry = ObjectPlan(str(body.get("apiVersion")), str(body.get("kind")), str(meta.get("name")),
                       meta.get("namespace"), Action.DELETE, source="--prune")
    planners = _planners(ctx, entry.kind)
    outcome = planners[1](body) if planners is not None else Outcome()
    entry.steps, entry.notes, entry.problems = outcome.steps, outcome.notes, outcome.problems
    if entry.problems:
        entry.action = Action.ERROR
    return entry
