"""ResourcePool sync and deletion against the fake provider: ensure (create, then update live), a parent
that is not there yet, InUse from the backend and from Kubernetes, Orphan, and SCVMM zones."""

from __future__ import annotations

from typing import Any

from fakes.harness import Body, Harness, advance, changed, condition, pool, reason, zone
from fakes.provider import FakeProvider
from herder.controllers.pool.delete import delete_pool
from herder.controllers.pool.sync import USAGE_REFRESH_SECONDS, pool_failed, sync_pool
from herder.controllers.shared.daemon import Pass
from herder.errors import HerderError
from herder.providers.types import Counts
from herder.reasons import Reason
from herder.reconcile.pool import PoolDeletion

ROOT = "/DC0/host/DC0_C0/Resources"


def pool_pass(harness: Harness, body: Body) -> tuple[Body, Pass]:
    try:
        result = sync_pool(harness.runtime, body, harness.lookups)
    except HerderError as exc:
        result = pool_failed(harness.runtime, body, exc)
    body = advance(body, result)
    harness.add(body)
    return body, result


def deleting(harness: Harness, body: Body) -> PoolDeletion:
    return delete_pool(harness.runtime, body, harness.lookups)


def test_a_pool_is_created_then_updated_in_place(harness: Harness) -> None:
    body, made = pool_pass(harness, pool("team-a"))
    status = body["status"]
    assert (status["path"], reason(status)) == (f"{ROOT}/team-a", "Ready")
    assert made.delay == USAGE_REFRESH_SECONDS
    ref = status["managedObjectID"]
    assert harness.fake.pools.observe(ref).cpu.reservation == 2000  # type: ignore[union-attr]

    body, _ = pool_pass(harness, changed(body, cpu={"reservation": 3000, "limit": 6000}))
    assert body["status"]["managedObjectID"] == ref
    updated = harness.fake.pools.observe(ref)
    assert updated is not None and (updated.cpu.reservation, updated.cpu.limit) == (3000, 6000)


def test_a_child_pool_waits_for_its_parent_then_nests_under_it(harness: Harness) -> None:
    child, waiting = pool_pass(harness, pool("team-a-dev", parent="team-a"))
    assert reason(child["status"]) == "ParentNotFound"
    assert waiting.failed and waiting.delay is None  # the parent's arrival wakes it, not a timer
    assert harness.fake.calls == []

    pool_pass(harness, pool("team-a"))
    child, _ = pool_pass(harness, child)
    assert child["status"]["path"] == f"{ROOT}/team-a/team-a-dev"


def test_deletion_waits_while_the_backend_pool_holds_vms(harness: Harness) -> None:
    body, _ = pool_pass(harness, pool("team-a"))
    vm = harness.fake.vms.add("stray", resource_pool="team-a")
    refused = deleting(harness, body)
    assert (refused.done, refused.reason) == (False, Reason.IN_USE)
    assert "1 VM(s)" in refused.message
    assert harness.fake.pools.observe(body["status"]["managedObjectID"]) is not None

    harness.fake.vms.vanish(vm.ref)
    removed = deleting(harness, body)
    assert (removed.done, removed.reason) == (True, Reason.DELETED)
    assert harness.fake.pools.observe(body["status"]["managedObjectID"]) is None


def test_deletion_waits_while_servers_name_the_pool_without_asking_the_backend(harness: Harness) -> None:
    body, _ = pool_pass(harness, pool("team-a"))
    harness.indexes["pool_users"]["team-a"] = ["team-a/web-1"]
    harness.fake.calls.clear()
    refused = deleting(harness, body)
    assert (refused.done, refused.reason) == (False, Reason.IN_USE)
    assert "ElasticCloudServer team-a/web-1" in refused.message
    assert harness.fake.calls == []


def test_deletion_with_orphan_leaves_the_backend_pool(harness: Harness) -> None:
    body, _ = pool_pass(harness, pool("team-a", deletionPolicy="Orphan"))
    harness.fake.vms.add("stray", resource_pool="team-a")
    result = deleting(harness, body)
    assert (result.done, result.reason) == (True, Reason.ORPHANED)
    assert "pools.delete" not in harness.fake.calls
    assert harness.fake.pools.observe(body["status"]["managedObjectID"]) is not None


def scvmm_zone(harness: Harness) -> FakeProvider:
    fake = FakeProvider()
    harness.connect(("SCVMM", "vmm01"), fake)
    scvmm = zone("vmm-zone")
    scvmm["spec"] = {"region": "region-1", "provider": {"kind": "SCVMM", "name": "vmm01"},
                     "scvmm": {"hostGroup": "All Hosts", "libraryShare": "\\\\lib\\share", "vmPath": "C:\\VMs",
                               "logicalNetwork": "VM Network"}}
    harness.add(scvmm)
    return fake


def cloud(name: str, **spec: Any) -> Body:
    return pool(name, zone="vmm-zone", cpu={}, memory={}) | {"spec": {"zone": "vmm-zone"} | spec}


def test_a_pool_in_an_scvmm_zone_is_a_cloud_with_its_limits_as_capacity(harness: Harness) -> None:
    fake = scvmm_zone(harness)
    body, result = pool_pass(harness, cloud("gold", serverLimit=4, memory={"limit": "8Gi"}))
    status = body["status"]
    assert (status["path"], reason(status), result.delay) == ("gold", "Ready", USAGE_REFRESH_SECONDS)
    assert status["capacity"] == {"memory": "8Gi", "servers": 4}
    observed = fake.pools.observe(status["managedObjectID"])
    assert observed is not None and observed.limits == Counts(servers=4, memory_mib=8192)
    harness.fake.calls.clear()
    body, _ = pool_pass(harness, changed(body, serverLimit=6))  # live: the same cloud, a new capacity
    assert fake.pools.observe(status["managedObjectID"]).limits.servers == 6  # type: ignore[union-attr]
    assert harness.fake.calls == []  # the vCenter was not asked


def test_a_child_cloud_beyond_its_parent_is_held_within_it_and_says_so(harness: Harness) -> None:
    fake = scvmm_zone(harness)
    parent, _ = pool_pass(harness, cloud("org", memory={"limit": "16Gi"}, serverLimit=10))
    child, _ = pool_pass(harness, cloud("team", parent="org", memory={"limit": "32Gi"}))
    assert reason(child["status"]) == "LimitExceedsParent"
    assert "spec.memory.limit 32Gi exceeds parent ResourcePool org's 16Gi" in condition(child["status"], "Ready")[
        "message"]
    assert child["status"]["capacity"] == {"memory": "16Gi", "servers": 10}  # inherited and held within
    observed = fake.pools.observe(child["status"]["managedObjectID"])
    assert observed is not None and observed.limits == Counts(servers=10, memory_mib=16384)

    # The parent grows: the child fits, and gets what it asked for.
    harness.add(changed(parent, memory={"limit": "64Gi"}))
    child, _ = pool_pass(harness, child)
    assert (reason(child["status"]), child["status"]["capacity"]["memory"]) == ("Ready", "32Gi")


def test_a_reservation_in_an_scvmm_zone_is_refused_naming_the_field_and_not_retried(harness: Harness) -> None:
    fake = scvmm_zone(harness)
    body, result = pool_pass(harness, cloud("team-b", memory={"reservation": "4Gi"}))
    assert reason(body["status"]) == "NotSupported"
    assert "spec.memory.reservation" in condition(body["status"], "Ready")["message"]
    assert result.delay is None
    assert fake.calls == []
