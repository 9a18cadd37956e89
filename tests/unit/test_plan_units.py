"""herder plan's planning against the fake provider: the steps it lists are the ones the operator's passes then
take (compared with the Events those passes post: ECSs, snapshots, restores), refusals (ServerQuota, adoption)
and a restore's hold read as the operator reports them, it only ever reads the backend, and its JSON validates
against docs/plan.schema.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fakes.harness import (
    IMAGE,
    NAMESPACE,
    Body,
    Harness,
    advance,
    changed,
    condition,
    pool,
    server,
    server_set,
    server_snapshot,
    snapshot_restore,
)
from fakes.provider import FakeProvider
from herder.api import AvailabilityZone, ResourcePool
from herder.api.metadata import API_VERSION
from herder.controllers.ecs.sync import sync_server
from herder.controllers.image.sync import sync_image
from herder.controllers.restore.sync import sync_restore
from herder.controllers.shared.backoff import Backoff
from herder.controllers.shared.daemon import Progress
from herder.controllers.shared.indexes import Lookups
from herder.controllers.snapshot.sync import sync_snapshot
from herder.errors import HerderError, NotSupported, ProviderNotReady
from herder.plan import images, pools, servers, sets, snapshots
from herder.plan.context import Context
from herder.plan.model import Action, Change, Do, ObjectPlan, PlanResult, Problem, Step, to_json
from herder.plan.render import render
from herder.plan.world import World
from herder.providers.base import ProviderReads
from herder.providers.readonly import ReadOnly
from herder.providers.types import AddressPool, EndpointInfo, TemplateInfo
from herder.reconcile.pool import pool_spec

GIB = 1024**3
CHECKSUM = "sha256:" + "a" * 64
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "plan.schema.json").read_text())
READS = {"vms.find", "vms.find_by_unique_id", "vms.locate", "vms.task", "vms.address_pools", "inventory.refresh",
         "images.find_template", "images.find_disk", "images.task", "pools.observe", "zones.capacity",
         "zones.members", "snapshots.find", "snapshots.task"}


class ReadOnlyBackends:
    """The harness's connected fake, handed out as herder plan hands out its providers: reads only."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.backoff = Backoff()
        self.info: dict[tuple[str, str], EndpointInfo] = {}

    def reads(self, kind: str, name: str) -> ProviderReads:
        handle = self.harness.runtime.providers.get((kind, name))
        if handle is None:
            raise ProviderNotReady(f"{kind} {name} not connected")
        return ReadOnly(handle.provider)

    def connected(self, kind: str, name: str) -> bool:
        return (kind, name) in self.harness.runtime.providers

    def failure(self, kind: str, name: str) -> HerderError | None:
        return None


def context(harness: Harness, *objects: Body) -> Context:
    indexed = [body for name in ("zones", "cluster_images", "images", "pools")
               for bodies in harness.indexes[name].values() for body in bodies]
    return Context(World([*indexed, *objects], {NAMESPACE: {}}), ReadOnlyBackends(harness))


def operator_steps(harness: Harness, body: Body, lookups: Lookups | None = None) -> tuple[Body, list[str]]:
    """Run the operator's passes (over `lookups`, else the harness's) until it has nothing left to do: the
    reasons of the step Events it posted."""
    posted: list[str] = []
    for _ in range(20):
        result = sync_server(harness.runtime, body, lookups or harness.lookups)
        body = advance(body, result)
        posted += [n.reason for n in result.notices if n.type == "Normal"]
        pending = body["status"].get("pendingTask")
        if pending is None and not any(n.type == "Normal" for n in result.notices):
            return body, posted
        if pending is not None:
            harness.fake.tasks.succeed(pending["id"])
    raise AssertionError(f"the operator did not settle; steps so far {posted}")


def dos(steps: list[Step]) -> list[str]:
    return [s.do.value for s in steps]


@pytest.fixture
def harness() -> Any:
    h = Harness()
    yield h
    h.close()


def test_a_resize_with_a_power_cycle_disk_changes_and_a_move_are_the_steps_the_operator_then_takes(
        harness: Harness) -> None:
    body, vm = harness.provision(server("web-1", cpu=2, memory="4Gi", powerCyclePolicy="Automatic",
                                        disks={"data": [{"name": "logs", "size": "1Gi"}, {"name": "tmp",
                                                                                          "size": "1Gi"}]}))
    wanted = changed(body, cpu=4, placement={"host": "DC0_C0_H1"},
                     disks={"data": [{"name": "logs", "size": "2Gi"}]})
    harness.fake.calls.clear()

    outcome = servers.plan_server(context(harness, wanted), wanted)

    assert dos(outcome.steps) == ["Relocate", "PowerOff", "Reconfigure", "PowerOn"], outcome
    assert not outcome.problems
    assert set(harness.fake.calls) <= READS, harness.fake.calls
    reconfigure = outcome.steps[2]
    assert set(reconfigure.changes) == {Change("CPU", "2", "4"), Change("disk logs", "1Gi", "2Gi"),
                                        Change("disk tmp", "1Gi", None)}
    assert reconfigure.data_loss and "data is lost" in reconfigure.summary
    assert "powerCyclePolicy Automatic" in outcome.steps[1].summary
    assert outcome.steps[0].changes == (Change("host", vm.host, "DC0_C0_H1"),)

    after, posted = operator_steps(harness, wanted)
    assert posted == dos(outcome.steps)
    assert harness.fake.vms.get(vm.ref) is not None
    assert harness.fake.vms.get(vm.ref).cpu == 4  # type: ignore[union-attr]
    assert servers.plan_server(context(harness, after), after).steps == []


def test_without_automatic_power_cycles_only_the_disk_changes_go_ahead_and_the_rest_is_blocked(
        harness: Harness) -> None:
    body, _ = harness.provision(server("web-1", cpu=2, memory="4Gi"))
    wanted = changed(body, cpu=4, disks={"data": [{"name": "new", "size": "1Gi"}]})

    outcome = servers.plan_server(context(harness, wanted), wanted)

    assert dos(outcome.steps) == ["Reconfigure", "Blocked"]
    assert outcome.steps[0].changes == (Change("disk new", None, "1Gi"),)
    assert outcome.steps[1].reason == "PowerCycleRequired"
    _, posted = operator_steps(harness, wanted)
    assert posted == ["Reconfigure"]


def test_a_new_server_without_a_zone_is_created_where_the_scheduler_puts_it(harness: Harness) -> None:
    body = server("fresh", availabilityZone=None, cpu=1, memory="1Gi")
    body["spec"].pop("availabilityZone")

    outcome = servers.plan_server(context(harness, body), body)

    assert dos(outcome.steps) == ["Create"]
    create = outcome.steps[0]
    assert create.details["zone"] == "dc0-c0"
    assert "chosen" in create.details["zoneChoice"]
    assert f"VM {NAMESPACE}.fresh" in create.summary and "1 vCPU" in create.summary
    assert harness.fake.calls == []  # never created: nothing to look up before the create itself


def test_a_world_with_a_server_made_from_no_image_is_indexed_as_the_operator_indexes_it(harness: Harness) -> None:
    adopted = server("adopted", adoptFrom={"uniqueID": "4210aaaa-0000-0000-0000-000000000001"})
    adopted["spec"].pop("image")
    body = server("fresh")

    ctx = context(harness, adopted, body)

    assert dos(servers.plan_server(ctx, body).steps) == ["Create"]
    assert ctx.world.lookups.image_dependents("ClusterImage", None, IMAGE) == [f"{NAMESPACE}/fresh"]


def test_an_unresolved_reference_is_a_problem_and_a_pool_still_being_made_is_a_wait(harness: Harness) -> None:
    missing = server("lost", image={"kind": "ClusterImage", "name": "nope"})
    outcome = servers.plan_server(context(harness, missing), missing)
    assert [p.reason for p in outcome.problems] == ["ImageNotFound"]

    new_pool = pool("team")
    waiting = server("pooled", resourcePool="team")
    outcome = servers.plan_server(context(harness, new_pool, waiting), waiting)
    assert not outcome.problems
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.WAIT, "ResourcePoolNotReady")]


def test_deleting_a_server_says_what_happens_to_its_vm_under_its_policy(harness: Harness) -> None:
    body, vm = harness.provision(server("web-1"))

    destroy = servers.server_deletion(context(harness, body), body)
    assert dos(destroy.steps) == ["Destroy"] and destroy.steps[0].data_loss
    assert vm.name in destroy.steps[0].summary

    orphan = changed(body, deletionPolicy="Orphan")
    kept = servers.server_deletion(context(harness, orphan), orphan)
    assert dos(kept.steps) == ["Orphan"] and not kept.steps[0].data_loss
    assert set(harness.fake.calls) <= READS


def test_a_set_plan_creates_the_missing_servers_in_zones(harness: Harness) -> None:
    body = server_set("web", 2)
    outcome, updated = sets.plan_server_set(context(harness, body), body)
    assert [(s.do, s.details["server"], s.details["zone"]) for s in outcome.steps] == [
        (Do.CREATE_SERVER, "web-0", "dc0-c0"), (Do.CREATE_SERVER, "web-1", "dc0-c0")]
    assert updated == []


def test_a_pool_limit_change_is_an_update_of_that_setting_only(harness: Harness) -> None:
    body = harness.add(pool("team", memory={"reservation": "1Gi", "limit": "4Gi"}))
    zone = AvailabilityZone.model_validate(harness.indexes["zones"]["dc0-c0"][0])
    observed = harness.fake.pools.ensure(pool_spec(ResourcePool.model_validate(body), zone, None))
    live = {**body, "status": {"managedObjectID": observed.ref, "path": observed.path}}
    wanted = copy.deepcopy(live)
    wanted["spec"]["memory"]["limit"] = "8Gi"

    outcome = pools.plan_pool(context(harness, wanted), wanted)
    assert dos(outcome.steps) == ["UpdatePool"]
    assert outcome.steps[0].changes == (Change("memory limit", "4Gi", "8Gi"),)
    assert pools.plan_pool(context(harness, live), live).steps == []


def test_an_existing_template_is_used_and_a_missing_one_is_a_problem(harness: Harness) -> None:
    image = harness.indexes["cluster_images"]["ubuntu"][0]
    found = images.plan_image(context(harness), "ClusterImage", image)
    assert dos(found.steps) == ["UseTemplate"]
    gone = copy.deepcopy(image)
    gone["spec"]["source"]["existing"]["name"] = "no-such-template"
    assert [p.reason for p in images.plan_image(context(harness), "ClusterImage", gone).problems] == [
        "TemplateNotFound"]


def test_the_read_only_view_has_no_way_to_change_anything(harness: Harness) -> None:
    view = ReadOnly(harness.fake)
    for member, mutators in (("vms", ("create", "reconfigure", "set_power", "destroy", "adopt", "release",
                                      "relocate")),
                             ("images", ("capture", "import_ovf", "destroy_template")),
                             ("pools", ("ensure", "delete")), ("inventory", ("start", "subscribe", "stop")),
                             ("snapshots", ("create", "revert", "remove"))):
        for name in mutators:
            assert not hasattr(getattr(view, member), name), f"{member}.{name}"
    for name in ("create", "revert", "remove"):
        assert not hasattr(view.snapshots, name), f"snapshots.{name}"
    assert {n for n in dir(view.snapshots) if not n.startswith("_")} == {"find", "task"}
    assert not hasattr(view, "endpoint")


def test_json_output_validates_and_exit_codes_follow_terraform() -> None:
    step = Step(Do.RECONFIGURE, "reconfigure: CPU 2 -> 4", (Change("CPU", "2", "4"),), details={"vm": "a.b"})
    changed_one = ObjectPlan("herder.dev/v1alpha1", "ElasticCloudServer", "b", "a", Action.CHANGE, "f.yaml#0",
                             [Change("spec.cpu", "2", "4")], [step])
    unchanged = ObjectPlan("herder.dev/v1alpha1", "AvailabilityZone", "z", None, Action.NONE, "f.yaml#1")
    broken = ObjectPlan("herder.dev/v1alpha1", "Image", "i", "a", Action.ERROR, "f.yaml#2",
                        problems=[Problem("Invalid", "spec.source: Required value")])
    for objects, code in (([unchanged], 0), ([unchanged, changed_one], 2), ([changed_one, broken], 1)):
        result = PlanResult(objects, backend_requests={"vcenter": {"RetrievePropertiesEx": 3}})
        out = to_json(result)
        jsonschema.validate(out, SCHEMA)
        assert out["exitCode"] == result.exit_code == code
    assert {d.value for d in Do} == set(SCHEMA["$defs"]["step"]["properties"]["do"]["enum"])
    text = render(PlanResult([changed_one, broken]), colour=False)
    assert "~ ElasticCloudServer a/b will change" in text and "spec.cpu: 2 -> 4" in text
    assert "! Invalid: spec.source: Required value" in text and "\033[" not in text
    assert "\033[" in render(PlanResult([changed_one]), colour=True)


def quota(name: str, **hard: Any) -> Body:
    return {"apiVersion": API_VERSION, "kind": "ServerQuota",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"}, "spec": {"hard": hard}}


def test_a_create_over_quota_is_blocked_as_the_operator_refuses_it(harness: Harness) -> None:
    """Admission is part of deciding: the plan reports the operator's QuotaExceeded, with its numbers."""
    first, _ = harness.provision(server("web-1", cpu=2, memory="4Gi"))
    second = server("web-2", cpu=2, memory="4Gi")
    ctx = context(harness, quota("small", servers=2, cpu=3), first, second)

    outcome = servers.plan_server(ctx, second)

    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "QuotaExceeded")]
    assert "vCPUs 2 in use + 2 requested > 3 allowed" in outcome.steps[0].summary
    refused = sync_server(harness.runtime, second, ctx.world.lookups)
    provisioned = condition(refused.status, "Provisioned")
    assert (provisioned["reason"], f"Provisioned: {provisioned['message']}") == ("QuotaExceeded",
                                                                                 outcome.steps[0].summary)
    assert "vms.create" not in harness.fake.calls and not refused.notices

    roomy = context(harness, quota("small", servers=2, cpu=4), first, second)
    assert dos(servers.plan_server(roomy, second).steps) == ["Create"]


def test_a_resize_over_quota_changes_nothing_but_the_rest_goes_ahead(harness: Harness) -> None:
    body, _ = harness.provision(server("web-1", cpu=2, memory="4Gi", powerCyclePolicy="Automatic"))
    wanted = changed(body, cpu=4, placement={"host": "DC0_C0_H1"})
    ctx = context(harness, quota("small", cpu=3), wanted)

    outcome = servers.plan_server(ctx, wanted)

    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.RELOCATE, None), (Do.BLOCKED, "QuotaExceeded")]
    _, posted = operator_steps(harness, wanted, ctx.world.lookups)
    assert posted == ["Relocate"]




def test_an_adoption_the_rules_refuse_is_blocked_as_the_operator_refuses_it(harness: Harness) -> None:
    taken_vm = harness.fake.vms.add("legacy", owner_uid="someone-else")
    body = server("adopter", adoptFrom={"uniqueID": taken_vm.unique_id})
    ctx = context(harness, body)

    outcome = servers.plan_server(ctx, body)

    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "AdoptionRefused")]
    assert "belongs to another herder object" in outcome.steps[0].summary
    assert {"vms.find_by_unique_id", "vms.locate"} <= set(harness.fake.calls) <= READS
    refused = sync_server(harness.runtime, body, ctx.world.lookups)
    provisioned = condition(refused.status, "Provisioned")
    assert f"Provisioned: {provisioned['message']}" == outcome.steps[0].summary
    assert "vms.adopt" not in harness.fake.calls


def test_a_server_a_restore_holds_plans_no_change(harness: Harness) -> None:
    body, _ = harness.provision(server("web-1"))
    wanted = changed(body, cpu=4)
    holding = snapshot_restore("undo", "s1") | {"status": {"phase": "Holding", "server": "web-1"}}

    outcome = servers.plan_server(context(harness, wanted, holding), wanted)

    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.WAIT, "Restoring")]
    assert outcome.steps[0].summary == "ServerSnapshotRestore undo is reverting this server: no change until it ends"
    assert servers.plan_server(context(harness, wanted), wanted).steps[0].do is not Do.WAIT


def snapshot_events(result: Any) -> list[tuple[str, str]]:
    return [(n.reason, n.message) for n in result.notices if n.type == "Normal"]


def test_a_snapshot_plan_is_the_step_the_operator_then_takes(harness: Harness) -> None:
    ecs, _ = harness.provision(server("web-1"))
    snap = server_snapshot("s1", quiesce=True)
    ctx = context(harness, ecs, snap)
    harness.fake.calls.clear()

    outcome = snapshots.plan_snapshot(ctx, snap)

    assert [(s.do.value, s.summary) for s in outcome.steps] == [
        ("TakeSnapshot", f"take a snapshot of server web-1 (VM {NAMESPACE}.web-1) without memory, quiesced first "
                         "(the guest's file systems are flushed)")]
    assert set(harness.fake.calls) <= READS, harness.fake.calls
    taken = sync_snapshot(harness.runtime, snap, ctx.world.lookups)
    assert snapshot_events(taken) == [(s.do.value, s.summary) for s in outcome.steps]
    snap = advance(snap, taken)
    harness.fake.tasks.succeed(snap["status"]["pendingTask"]["id"])
    snap = advance(snap, sync_snapshot(harness.runtime, snap, ctx.world.lookups))
    assert snapshots.plan_snapshot(context(harness, ecs, snap), snap) == snapshots.Outcome()
    memory = server_snapshot("s2", memory=True)
    assert "with memory" in snapshots.plan_snapshot(context(harness, ecs, memory), memory).steps[0].summary


def test_a_snapshot_of_a_server_not_made_yet_waits_for_it(harness: Harness) -> None:
    fresh, snap = server("later"), server_snapshot("s1", "later")
    outcome = snapshots.plan_snapshot(context(harness, fresh, snap), snap)
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.WAIT, "ServerNotReady")]


def restore_world(harness: Harness, **restore_spec: Any) -> tuple[Body, Body, Body]:
    """A running server, a snapshot of it taken without memory, and a new restore of it."""
    ecs, _ = harness.provision(server("web-1"))
    snap = server_snapshot("s1")
    ctx = context(harness, ecs, snap)
    snap = advance(snap, sync_snapshot(harness.runtime, snap, ctx.world.lookups))
    harness.fake.tasks.succeed(snap["status"]["pendingTask"]["id"])
    snap = advance(snap, sync_snapshot(harness.runtime, snap, context(harness, ecs, snap).world.lookups))
    harness.fake.calls.clear()
    return ecs, snap, snapshot_restore("undo", "s1", **restore_spec)


def test_a_restore_plan_is_the_revert_and_power_steps_the_operator_then_takes(harness: Harness) -> None:
    ecs, snap, undo = restore_world(harness, powerState="On")

    outcome = snapshots.plan_restore(context(harness, ecs, snap, undo), undo)

    unique_id = snap["status"]["uniqueID"]
    assert [(s.do.value, s.summary) for s in outcome.steps] == [
        ("Revert", f"revert server web-1 (VM {NAMESPACE}.web-1) to snapshot s1 ({unique_id}): its disks, CPU, "
                   "memory and power state as the snapshot kept them; what changed since is lost"),
        ("PowerOn", "power on server web-1 after the revert (the restore's spec.powerState is On)")]
    assert outcome.steps[0].data_loss and outcome.steps[1].changes == (Change("power", "Off", "On"),)
    assert set(harness.fake.calls) <= READS, harness.fake.calls

    posted: list[tuple[str, str]] = []
    for _ in range(10):  # the restore's passes, the server giving its go-ahead when held
        ctx = context(harness, ecs, snap, undo)
        if (undo.get("status") or {}).get("phase") == "Holding":
            ecs = advance(ecs, sync_server(harness.runtime, ecs, ctx.world.lookups))
            ctx = context(harness, ecs, snap, undo)
        result = sync_restore(harness.runtime, undo, ctx.world.lookups)
        posted += snapshot_events(result)
        undo = advance(undo, result)
        if undo["status"].get("pendingTask"):
            harness.fake.tasks.succeed(undo["status"]["pendingTask"]["id"])
        if undo["status"]["phase"] == "Completed":
            break
    assert undo["status"]["phase"] == "Completed"
    assert posted == [(s.do.value, s.summary) for s in outcome.steps]
    assert snapshots.plan_restore(context(harness, ecs, snap, undo), undo) == snapshots.Outcome()


def test_a_restore_without_a_power_state_is_the_revert_alone_and_waits_for_a_busy_server(harness: Harness) -> None:
    ecs, snap, undo = restore_world(harness)
    assert dos(snapshots.plan_restore(context(harness, ecs, snap, undo), undo).steps) == ["Revert"]
    busy = ecs | {"status": ecs["status"] | {"pendingTask": {"id": "task-9", "operation": "reconfigure",
                                                             "startedAt": "2030-01-01T00:00:00Z"}}}
    waiting = snapshots.plan_restore(context(harness, busy, snap, undo), undo)
    assert [(s.do, s.reason) for s in waiting.steps] == [(Do.WAIT, "Restoring")]
    assert "waiting for web-1 to finish" in waiting.steps[0].summary


def test_a_restore_of_a_snapshot_not_taken_yet_waits_for_it(harness: Harness) -> None:
    ecs, _ = harness.provision(server("web-1"))
    snap, undo = server_snapshot("s1"), snapshot_restore("undo", "s1")
    outcome = snapshots.plan_restore(context(harness, ecs, snap, undo), undo)
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.WAIT, "SnapshotNotReady")]


def test_no_event_at_steady_state(harness: Harness) -> None:
    """Step Events are posted for steps taken only: a server, a snapshot and a restore with nothing left to do
    post none, pass after pass (each Event is a Kubernetes write)."""
    ecs, snap, undo = restore_world(harness)
    ctx = context(harness, ecs, snap, undo)
    for _ in range(3):
        assert harness.sync(ecs)[1].notices == ()
        assert sync_snapshot(harness.runtime, snap, ctx.world.lookups).notices == ()
    done = undo | {"status": {"phase": "Completed", "server": "web-1"}}
    assert sync_restore(harness.runtime, done, ctx.world.lookups).notices == ()


def test_a_set_stops_at_its_quota_and_a_private_image_over_quota_is_blocked(harness: Harness) -> None:
    """As the set and image controllers count: stored status, every ServerQuota of the namespace."""
    body = server_set("web", 3)
    outcome, _ = sets.plan_server_set(context(harness, quota("two", servers=2), body), body)
    assert [(s.do, s.details.get("server")) for s in outcome.steps] == [
        (Do.CREATE_SERVER, "web-0"), (Do.CREATE_SERVER, "web-1"), (Do.BLOCKED, None)]
    assert outcome.steps[-1].reason == "QuotaExceeded" and "ServerQuota two" in outcome.steps[-1].summary

    image = {"apiVersion": API_VERSION, "kind": "Image",
             "metadata": {"name": "mine", "namespace": NAMESPACE, "uid": "uid-mine", "generation": 1},
             "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                      "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}
    blocked = images.plan_image(context(harness, quota("none", images=0), image), "Image", image)
    assert [(s.do, s.reason) for s in blocked.steps] == [(Do.BLOCKED, "QuotaExceeded")]
    assert dos(images.plan_image(context(harness, quota("one", images=1), image), "Image", image).steps) == [
        "UseTemplate"]


def test_a_pool_change_and_a_migration_are_the_relocate_the_operator_then_takes(harness: Harness) -> None:
    """Moving servers is decided by the planner: a new spec.resourcePool is a move into its pool, a new pinned host
    and datastore a live migration; the plan lists the Relocate the operator then takes, with what changes."""
    team = pool("team")
    team["status"] = {"path": "/DC0/host/DC0_C0/Resources/team", "managedObjectID": "resgroup-7"}
    harness.add(team)
    body, vm = harness.provision(server("web-1"))
    wanted = changed(body, resourcePool="team", placement={"host": "DC0_C0_H1", "datastore": "LocalDS_1"})
    harness.fake.zones.datastores.add("LocalDS_1")
    ctx = context(harness, wanted)

    outcome = servers.plan_server(ctx, wanted)

    assert dos(outcome.steps) == ["Relocate"], outcome
    assert outcome.steps[0].changes == (Change("host", vm.host, "DC0_C0_H1"), Change("storage", vm.datastore,
                                                                                      "LocalDS_1"),
                                        Change("pool", "Resources", "team"))
    assert "vMotion / live migration" in outcome.steps[0].summary
    assert set(harness.fake.calls) <= READS
    after, posted = operator_steps(harness, wanted, ctx.world.lookups)
    moved = harness.fake.vms.get(vm.ref)
    assert posted == ["Relocate"] and moved is not None
    assert (moved.host, moved.datastore, moved.resource_pool) == ("DC0_C0_H1", "LocalDS_1", "team")
    assert after["status"]["resourcePool"] == "team"
    assert servers.plan_server(context(harness, after), after).steps == []


def test_a_pin_outside_the_zone_is_blocked_as_the_operator_refuses_it(harness: Harness) -> None:
    body, vm = harness.provision(server("web-1"))
    wanted = changed(body, placement={"host": "DC0_C1_H0"})
    ctx = context(harness, wanted)

    outcome = servers.plan_server(ctx, wanted)

    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "PlacementNotInZone")]
    refused = sync_server(harness.runtime, wanted, ctx.world.lookups)
    placed = condition(refused.status, "PlacementSynced")
    assert f"PlacementSynced: {placed['message']}" == outcome.steps[0].summary
    assert "vms.relocate" not in harness.fake.calls and harness.fake.vms.get(vm.ref).host == vm.host  # type: ignore[union-attr]


def test_a_zone_outside_the_servers_region_is_a_problem_as_the_operator_reports_it(harness: Harness) -> None:
    body = server("far", region="region-9")
    ctx = context(harness, body)
    outcome = servers.plan_server(ctx, body)
    assert [p.reason for p in outcome.problems] == ["ZoneNotInRegion"]
    assert "not in spec.region region-9" in outcome.problems[0].message
    with pytest.raises(HerderError) as caught:
        sync_server(harness.runtime, body, ctx.world.lookups)
    assert (caught.value.reason.value, str(caught.value)) == ("ZoneNotInRegion", outcome.problems[0].message)


def test_a_nic_change_that_needs_a_power_cycle_is_the_steps_the_operator_then_takes(harness: Harness) -> None:
    """A MAC address that changes only while the VM is off, and a NIC added: power off, reconfigure, power on."""
    body, vm = harness.provision(server("web-1", powerCyclePolicy="Automatic", networks=[{"network": "VM Network"}]))
    harness.fake.vms.drift(vm.ref, mac_hot_change=False)
    first_mac = vm.nics[0].mac
    wanted = changed(body, networks=[{"network": "VM Network", "macAddress": "00:50:56:3f:00:10"},
                                     {"network": "DC0_DVPG0"}])
    harness.fake.calls.clear()

    outcome = servers.plan_server(context(harness, wanted), wanted)

    assert dos(outcome.steps) == ["PowerOff", "Reconfigure", "PowerOn"], outcome
    assert set(harness.fake.calls) <= READS, harness.fake.calls
    assert set(outcome.steps[1].changes) == {Change("NIC 0", f"VM Network MAC {first_mac}",
                                                    "VM Network MAC 00:50:56:3F:00:10"),
                                             Change("NIC 1", None, "DC0_DVPG0")}
    assert "a NIC cannot change while the VM runs" in outcome.steps[0].summary

    after, posted = operator_steps(harness, wanted)
    assert posted == dos(outcome.steps)
    now = harness.fake.vms.get(vm.ref)
    assert now is not None
    assert (now.nics[0].network, now.nics[0].mac) == ("VM Network", "00:50:56:3F:00:10")
    assert [n.network for n in now.nics] == ["VM Network", "DC0_DVPG0"]
    assert servers.plan_server(context(harness, after), after).steps == []


def test_nics_and_guest_settings_the_backend_cannot_take_are_blocked_as_the_operator_refuses_them(
        harness: Harness) -> None:
    """Decided by the planner before any backend write: the plan's Blocked step is the operator's condition."""
    new = server("web-2", networks=[{"network": "VM Network", "addressing": "Static"}])
    outcome = servers.plan_server(context(harness, new), new)
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "NotSupported")], outcome
    assert "vCenter has no IP address pools" in outcome.steps[0].summary
    refused, _ = harness.sync(new)
    assert (condition(refused["status"], "Provisioned")["reason"], "vms.create" in harness.fake.calls) == (
        "NotSupported", False)
    assert "no IP address pools" in condition(refused["status"], "Provisioned")["message"]

    windows = server("web-3", guest={"windows": {"timeZone": 110}})  # the image is Linux
    assert [s.reason for s in servers.plan_server(context(harness, windows), windows).steps] == ["NotSupported"]

    body, vm = harness.provision(server("web-1", networks=[{"network": "VM Network"}]))
    wanted = changed(body, networks=[{"network": "VM Network"}, {"network": "DC0_DVPG0", "vlan": 200}])
    outcome = servers.plan_server(context(harness, wanted), wanted)
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "NotSupported")], outcome
    assert "the port group fixes the VLAN" in outcome.steps[0].summary
    after, _ = harness.sync(wanted)
    assert condition(after["status"], "ConfigSynced")["reason"] == "NotSupported"
    assert "vms.reconfigure" not in harness.fake.calls
    assert [n.network for n in (harness.fake.vms.get(vm.ref) or vm).nics] == ["VM Network"]


def scvmm_image(name: str, **source: Any) -> Body:
    return {"apiVersion": API_VERSION, "kind": "Image",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}", "generation": 1},
            "spec": {"provider": {"kind": "SCVMM", "name": "vmm"}, "osFamily": "Linux", "source": source}}


def test_an_scvmm_disk_import_is_planned_as_the_image_controller_then_makes_it(harness: Harness) -> None:
    vmm = FakeProvider()
    harness.connect(("SCVMM", "vmm"), vmm)
    image = scvmm_image("ubuntu-vhdx", url={"url": "https://images.example/u.vhdx.zip", "checksum": CHECKSUM})

    outcome = images.plan_image(context(harness, image), "Image", image)

    assert dos(outcome.steps) == ["Import"] and outcome.steps[0].details["format"] == "VHDX", outcome
    assert "library share of SCVMM vmm" in outcome.steps[0].summary and "Get-FileHash" in outcome.steps[0].summary
    assert set(vmm.calls) <= READS, vmm.calls
    vmm.calls.clear()
    sync_image(harness.runtime, "Image", image, harness.lookups, Progress())
    assert vmm.calls == ["images.import_disk"]  # the disk path, not an OVF import

    ova = scvmm_image("ubuntu-ova", url={"url": "https://images.example/u.ova", "checksum": CHECKSUM})
    assert [p.reason for p in images.plan_image(context(harness, ova), "Image", ova).problems] == ["NotSupported"]
    with pytest.raises(NotSupported, match="an SCVMM imports VHD and VHDX"):
        sync_image(harness.runtime, "Image", ova, harness.lookups, Progress())

    source, _ = harness.provision(server("golden"))
    live = scvmm_image("golden-live", fromServer={"name": "golden", "powerPolicy": "Live"})
    live_plan = images.plan_image(context(harness, live, source), "Image", live)
    assert [p.reason for p in live_plan.problems] == ["NotSupported"]
    stopped = scvmm_image("golden", fromServer={"name": "golden", "powerPolicy": "PowerOff"})
    capture = images.plan_image(context(harness, stopped, source), "Image", stopped)
    assert dos(capture.steps) == ["Capture"] and "make a new template img_team-a.golden of the clone" in (
        capture.steps[0].summary)


def test_a_static_address_the_pool_cannot_give_is_blocked_as_the_operator_refuses_it(harness: Harness) -> None:
    """The pools are read before the create: a taken address or an exhausted pool makes nothing, and is looked at
    again with backoff until an address comes free."""
    harness.fake.vms.pools["VM Network"] = AddressPool("Pool-A", 1, frozenset({"10.0.0.5"}))
    taken = server("web-1", networks=[{"network": "VM Network", "addressing": "Static",
                                       "ipv4": {"address": "10.0.0.5/24"}}])
    outcome = servers.plan_server(context(harness, taken), taken)
    assert [(s.do, s.reason) for s in outcome.steps] == [(Do.BLOCKED, "AddressUnavailable")], outcome
    assert "10.0.0.5 is already granted from static IP pool Pool-A" in outcome.steps[0].summary
    body, result = harness.sync(taken)
    assert condition(body["status"], "Provisioned")["reason"] == "AddressUnavailable" and result.failed
    assert "vms.create" not in harness.fake.calls

    two = server("web-2", networks=[{"network": "VM Network", "addressing": "Static", "ipv4": {"address": address}}
                                    for address in ("10.0.0.6/24", "10.0.0.7/24")])
    outcome = servers.plan_server(context(harness, two), two)
    assert [s.reason for s in outcome.steps] == ["AddressUnavailable"]
    assert "spec.networks[1]: static IP pool Pool-A has no available IP addresses" in outcome.steps[0].summary

    harness.fake.vms.pools["VM Network"] = AddressPool("Pool-A", 2, frozenset())  # addresses came free
    assert dos(servers.plan_server(context(harness, two), two).steps) == ["Create"]
    body, _ = harness.sync(body)
    assert "vms.create" in harness.fake.calls


def test_an_scvmm_library_disk_is_given_a_template_in_the_plan_as_the_image_controller_then_does(
        harness: Harness) -> None:
    vmm = FakeProvider()
    harness.connect(("SCVMM", "vmm"), vmm)
    vmm.images.disks["golden.vhdx"] = TemplateInfo("disk-1", "disk-1", "golden.vhdx", "\\\\lib\\share\\golden.vhdx",
                                                   0, 0, 2 * GIB, is_template=False)
    image = scvmm_image("golden", existing={"name": "golden.vhdx"})

    outcome = images.plan_image(context(harness, image), "Image", image)

    assert dos(outcome.steps) == ["UseTemplate"], outcome
    assert "give library disk \\\\lib\\share\\golden.vhdx (2Gi) a template of its own, img_team-a.golden" in (
        outcome.steps[0].summary)
    assert set(vmm.calls) <= READS, vmm.calls
    result = sync_image(harness.runtime, "Image", image, harness.lookups, Progress())
    made = advance(image, result)
    assert made["status"]["phase"] == "Available" and made["status"]["uniqueID"] == "uid-golden"
    assert images.plan_image(context(harness, made), "Image", made).steps == []
    missing = scvmm_image("none", existing={"name": "none.vhdx"})
    assert [p.reason for p in images.plan_image(context(harness, missing), "Image", missing).problems] == [
        "TemplateNotFound"]


def test_deleting_an_image_names_the_servers_made_from_it_which_keep_their_vms(harness: Harness) -> None:
    image = copy.deepcopy(harness.indexes["cluster_images"]["ubuntu"][0])
    image["status"] = {"path": "/DC0/vm/ubuntu-22.04-tmpl", "uniqueID": "4222vm-t1"}
    web = server("web-1")
    outcome = images.image_deletion(context(harness, web), "ClusterImage", image)
    assert dos(outcome.steps) == ["KeepTemplate"] and outcome.notes == [
        f"ECS {NAMESPACE}/web-1 made from it keep their VMs"]
    assert images.image_deletion(context(harness), "ClusterImage", image).notes == []
