"""Moving servers against the fake provider: a pool change moves the running server and status shows the pool it
is observed in; moves refused when asked are reported and retried on their backoff, like a create a cloud's
capacity refuses; a pinned host outside the zone is refused before anything moves."""

from __future__ import annotations

import pytest

from fakes.harness import Body, Harness, advance, changed, condition, pool, reason, server
from herder.api.ecs import PowerState
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.errors import HerderError, Refused

ROOT = "/DC0/host/DC0_C0/Resources"
MOVES = {"vms.create", "vms.relocate", "vms.reconfigure", "vms.set_power"}


def team_pool(harness: Harness) -> Body:
    """ResourcePool "team" of the zone, made on the backend (status.path set)."""
    body = pool("team")
    body["status"] = {"path": f"{ROOT}/team", "managedObjectID": "resgroup-7"}
    return harness.add(body)


def failing(harness: Harness, body: Body) -> Body:
    """A pass that raises, with the status the daemon then writes (server_failed)."""
    with pytest.raises(HerderError) as caught:
        sync_server(harness.runtime, body, harness.lookups)
    return advance(body, server_failed(harness.runtime, body, caught.value))


def moves(harness: Harness) -> list[str]:
    return [call for call in harness.fake.calls if call in MOVES]


def test_changing_the_pool_moves_the_running_server_and_status_reports_the_pool_it_is_in(harness: Harness) -> None:
    team_pool(harness)
    body, vm = harness.provision(server())
    assert "resourcePool" not in body["status"]

    body, _ = harness.sync(changed(body, resourcePool="team"))
    assert moves(harness) == ["vms.relocate"]
    assert body["status"]["pendingTask"]["operation"] == "relocate"
    assert reason(body["status"], "PlacementSynced") == "Migrating"
    assert "resourcePool" not in body["status"]  # not there yet: status says where it is, not where it goes

    harness.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
    body, _ = harness.sync(body)
    moved = harness.fake.vms.get(vm.ref)
    assert moved is not None and (moved.resource_pool, moved.power) == ("team", PowerState.ON)
    assert body["status"]["resourcePool"] == "team"
    assert reason(body["status"], "PlacementSynced") == "Placed"
    assert condition(body["status"], "Ready")["status"] == "True"

    # Out of the pool again: back to the zone's root pool.
    body, _ = harness.sync(changed(body, resourcePool=None))
    harness.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
    body, _ = harness.sync(body)
    assert harness.fake.vms.get(vm.ref).resource_pool == "Resources"  # type: ignore[union-attr]
    assert "resourcePool" not in body["status"]


def test_a_move_refused_when_asked_is_reported_and_retried_on_its_backoff(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.vms.refuse_moves.append("The host DC0_C0_H1 is in maintenance mode (Error ID: 13260)")
    body, result = harness.sync(changed(body, placement={"host": "DC0_C0_H1"}))
    placed = condition(body["status"], "PlacementSynced")
    assert (placed["status"], placed["reason"]) == ("False", "MigrationFailed")
    assert "relocate refused" in placed["message"] and "maintenance mode (Error ID: 13260)" in placed["message"]
    assert reason(body["status"]) == "MigrationFailed"
    assert result.failed and result.delay is not None and "pendingTask" not in body["status"]

    harness.fake.calls.clear()
    body, _ = harness.sync(body)  # woken early: the refusal is held, not tried again
    assert moves(harness) == []
    assert reason(body["status"], "PlacementSynced") == "MigrationFailed"

    harness.runtime.backoff.retry_at[str(body["metadata"]["uid"])] = 0.0  # the backoff ran out
    body, _ = harness.sync(body)
    assert moves(harness) == ["vms.relocate"]
    harness.fake.tasks.succeed(body["status"]["pendingTask"]["id"])
    body, _ = harness.sync(body)
    assert harness.fake.vms.get(vm.ref).host == "DC0_C0_H1"  # type: ignore[union-attr]
    assert reason(body["status"]) == "Ready"


def test_a_create_refused_for_capacity_is_create_failed_and_retried_on_its_backoff(harness: Harness) -> None:
    body = server()
    harness.fake.fail_next("vms.create", Refused("the operation would exceed the memory (MB) capacity of cloud "
                                                 "gold: 6144 used, 4096 more requested, 8192 allowed"))
    body, result = harness.sync(body)
    provisioned = condition(body["status"], "Provisioned")
    assert (provisioned["reason"], reason(body["status"])) == ("CreateFailed", "CreateFailed")
    assert "create refused" in provisioned["message"] and "capacity of cloud gold" in provisioned["message"]
    assert result.failed and harness.fake.vms.all() == []

    harness.fake.calls.clear()
    body, _ = harness.sync(body)
    assert moves(harness) == []
    harness.runtime.backoff.retry_at[str(body["metadata"]["uid"])] = 0.0
    body, _ = harness.sync(body)
    assert moves(harness) == ["vms.create"]


def test_a_pinned_host_outside_the_zone_is_refused_before_anything_moves(harness: Harness) -> None:
    body, vm = harness.provision(server())
    harness.fake.calls.clear()
    body, result = harness.sync(changed(body, placement={"host": "DC0_C1_H0"}))
    placed = condition(body["status"], "PlacementSynced")
    assert (placed["status"], placed["reason"]) == ("False", "PlacementNotInZone")
    assert "DC0_C1_H0 is not a host of zone dc0-c0" in placed["message"]
    assert "zones.members" in harness.fake.calls and moves(harness) == []
    assert harness.fake.vms.get(vm.ref).host == vm.host  # type: ignore[union-attr]
    assert not result.notices  # no step taken, no Event for one


def test_a_new_server_pinned_outside_its_zone_is_not_created(harness: Harness) -> None:
    body, _ = harness.sync(server(placement={"datastore": "NoSuchDS"}))
    provisioned = condition(body["status"], "Provisioned")
    assert (provisioned["reason"], reason(body["status"])) == ("PlacementNotInZone", "PlacementNotInZone")
    assert "datastore NoSuchDS is not mounted by zone dc0-c0" in provisioned["message"]
    assert moves(harness) == [] and harness.fake.vms.all() == []


def test_a_field_of_the_other_backend_is_refused_naming_it(harness: Harness) -> None:
    body, _ = harness.provision(server())
    body = failing(harness, changed(body, placement={"storagePath": "D:\\VMs"}))
    assert reason(body["status"], "ConfigSynced") == "NotSupported"
    assert "spec.placement.storagePath" in condition(body["status"], "ConfigSynced")["message"]
