"""The ResourcePool planner: the backend pool its spec asks for, its status, whether it may go."""

from __future__ import annotations

from typing import Any

import pytest

from herder.api import ResourcePool
from herder.api.selectors import LabelSelector
from herder.api.zone import AvailabilityZone
from herder.controllers.shared.indexes import Lookups
from herder.errors import NotSupported, Unresolvable
from herder.providers.types import (
    Allocation,
    Counts,
    ObservedPool,
    PoolUsage,
    SCVMMPlacement,
    SharesLevel,
    VCenterPlacement,
)
from herder.reasons import Reason
from herder.reconcile.ecsset import selector_string
from herder.reconcile.pool import allocation, exceeding_parent, plan_deletion, pool_spec, status_fields

ZONE = AvailabilityZone.model_validate({
    "metadata": {"name": "z"},
    "spec": {"region": "r", "provider": {"kind": "VCenter", "name": "vc"},
             "vcenter": {"cluster": "C0", "datastore": "ds", "network": "n", "folder": "vm"}}})


def pool(name: str, **spec: Any) -> ResourcePool:
    return ResourcePool.model_validate({"metadata": {"name": name}, "spec": {"zone": "z"} | spec})


def test_allocations_translate_units_and_shares() -> None:
    p = pool("a", cpu={"reservation": 500, "limit": 2000, "shares": {"level": "High"}},
             memory={"reservation": "1Gi", "limit": "2Gi", "shares": {"level": "Custom", "value": 7},
                     "expandableReservation": False})
    assert allocation(p.spec.cpu) == Allocation(500, 2000, SharesLevel.HIGH, None, True)
    assert allocation(p.spec.memory) == Allocation(1024, 2048, SharesLevel.CUSTOM, 7, False)
    assert allocation(pool("b").spec.memory) == Allocation()


def test_parent_pool_path_is_the_parent_of_the_backend_pool() -> None:
    parent = ResourcePool.model_validate({"metadata": {"name": "org"}, "spec": {"zone": "z"},
                                          "status": {"path": "/DC0/host/C0/Resources/org"}})
    spec = pool_spec(pool("team", parent="org"), ZONE, [parent])
    assert spec.parent == VCenterPlacement(cluster="C0", resource_pool="/DC0/host/C0/Resources/org")
    root = pool_spec(pool("org"), ZONE)
    assert root.parent == VCenterPlacement(cluster="C0")
    with pytest.raises(Unresolvable, match="not created yet"):
        pool_spec(pool("team", parent="org"), ZONE, [pool("org")])
    with pytest.raises(Unresolvable, match="in zone other"):
        pool_spec(pool("team", parent="org"), ZONE, [pool("org", zone="other")])
    with pytest.raises(Unresolvable, match="not found"):
        pool_spec(pool("team", parent="org"), ZONE)


def test_status_reports_path_and_usage() -> None:
    observed = ObservedPool("resgroup-9", "team", "/DC0/host/C0/Resources/team", Allocation(), Allocation(),
                            vms=2, cpu_usage=PoolUsage(100, 900, 50), memory_usage=PoolUsage(1024, 3072, None))
    assert status_fields(observed) == {
        "managedObjectID": "resgroup-9", "path": "/DC0/host/C0/Resources/team",
        "capacity": None,
        "usage": {"cpuReservationUsedMHz": 100, "memoryReservationUsed": "1Gi", "cpuAvailableMHz": 900,
                  "memoryAvailable": "3Gi", "servers": 2}}


SCVMM_ZONE = AvailabilityZone.model_validate({
    "metadata": {"name": "vmm"},
    "spec": {"region": "r", "provider": {"kind": "SCVMM", "name": "vmm01"},
             "scvmm": {"hostGroup": "All Hosts\\Zone-A", "libraryShare": "\\\\lib\\share", "vmPath": "D:\\VMs",
                       "logicalNetwork": "Datacenter"}}})


def made(name: str, **spec: Any) -> ResourcePool:
    """A pool of the SCVMM zone whose cloud exists."""
    return ResourcePool.model_validate({"metadata": {"name": name, "uid": f"uid-{name}"},
                                        "spec": {"zone": "vmm"} | spec, "status": {"path": name}})


def test_an_scvmm_pool_is_a_cloud_on_the_zone_host_group_with_the_limits_as_capacity() -> None:
    spec = pool_spec(made("gold", serverLimit=10, cpu={"vcpuLimit": 40}, memory={"limit": "64Gi"},
                          storageLimit="1500Mi"), SCVMM_ZONE)
    assert spec.parent == SCVMMPlacement(host_group="All Hosts\\Zone-A")
    assert spec.limits == Counts(servers=10, vcpus=40, memory_mib=65536, storage_gib=2)  # storage: whole GiB, up
    assert (spec.name, spec.uid, spec.memory.limit) == ("gold", "uid-gold", 65536)
    assert pool_spec(made("open"), SCVMM_ZONE).limits == Counts()  # unset: unlimited


def test_a_child_cloud_inherits_and_is_held_within_every_pool_above_it() -> None:
    org = made("org", serverLimit=10, memory={"limit": "32Gi"})
    team = made("team", parent="org", cpu={"vcpuLimit": 16}, memory={"limit": "16Gi"})
    dev = made("dev", parent="team", serverLimit=20, storageLimit="100Gi")
    assert pool_spec(team, SCVMM_ZONE, [org]).limits == Counts(servers=10, vcpus=16, memory_mib=16384)
    assert pool_spec(dev, SCVMM_ZONE, [team, org]).limits == Counts(servers=10, vcpus=16, memory_mib=16384,
                                                                   storage_gib=100)
    assert exceeding_parent(team, [org]) == []
    assert exceeding_parent(dev, [team, org]) == ["spec.serverLimit 20 exceeds parent ResourcePool team's 10"]
    greedy = made("greedy", parent="org", memory={"limit": "64Gi"})
    assert exceeding_parent(greedy, [org]) == ["spec.memory.limit 64Gi exceeds parent ResourcePool org's 32Gi"]
    assert exceeding_parent(org, []) == []


@pytest.mark.parametrize(("spec", "named"), [
    ({"cpu": {"reservation": 500}}, "spec.cpu.reservation"),
    ({"memory": {"reservation": "1Gi"}}, "spec.memory.reservation"),
    ({"cpu": {"shares": {"level": "High"}}}, "spec.cpu.shares"),
    ({"memory": {"expandableReservation": False}}, "spec.memory.expandableReservation"),
    ({"cpu": {"limit": 4000}}, "spec.cpu.limit"),
])
def test_what_a_cloud_has_no_equivalent_of_is_refused_naming_the_field(spec: dict[str, Any], named: str) -> None:
    with pytest.raises(NotSupported, match=named.replace(".", r"\.")):
        pool_spec(made("x", **spec), SCVMM_ZONE)


def test_cloud_limits_are_refused_on_vcenter_naming_the_field() -> None:
    with pytest.raises(NotSupported, match=r"spec\.serverLimit, spec\.storageLimit: vCenter"):
        pool_spec(pool("x", serverLimit=3, storageLimit="10Gi"), ZONE)


def test_an_scvmm_status_reports_capacity_and_usage() -> None:
    observed = ObservedPool("c1d2", "gold", "gold", Allocation(), Allocation(limit=8192), vms=3,
                            memory_usage=PoolUsage(available=2048, usage=6144),
                            limits=Counts(servers=4, vcpus=None, memory_mib=8192, storage_gib=100),
                            used=Counts(servers=3, vcpus=6, memory_mib=6144, storage_gib=60))
    assert status_fields(observed) == {
        "managedObjectID": "c1d2", "path": "gold",
        "capacity": {"memory": "8Gi", "servers": 4, "storage": "100Gi"},
        "usage": {"memoryAvailable": "2Gi", "servers": 3, "vcpus": 6, "memory": "6Gi", "storage": "60Gi"}}


def test_selector_string_for_the_scale_subresource() -> None:
    selector = LabelSelector.model_validate({"matchLabels": {"b": "2", "a": "1"},
                                             "matchExpressions": [{"key": "t", "operator": "In",
                                                                   "values": ["x", "y"]},
                                                                  {"key": "z", "operator": "DoesNotExist"}]})
    assert selector_string(selector) == "a=1,b=2,t in (x,y),!z"


def test_a_pool_is_in_use_while_servers_or_child_pools_name_it() -> None:
    pools = {"org": [{"metadata": {"name": "org"}, "spec": {"zone": "z"}}],
             "team": [{"metadata": {"name": "team"}, "spec": {"zone": "z", "parent": "org"}}]}
    lookups = Lookups({}, {}, {}, pools, pool_users={"org": ["a/web"], "team": ["b/db", "a/api"]})  # type: ignore[arg-type]
    assert lookups.pool_dependents("org") == ["ElasticCloudServer a/web", "ResourcePool team"]
    assert lookups.pool_dependents("team") == ["ElasticCloudServer a/api", "ElasticCloudServer b/db"]
    assert lookups.pool_dependents("free") == []


def test_pools_in_a_cycle_of_parents_hold_none_of_each_other() -> None:
    """a under b, b under a (made in an order that let each name the other), c under a, s under itself."""
    def entry(name: str, parent: str) -> list[dict[str, object]]:
        return [{"metadata": {"name": name}, "spec": {"zone": "z", "parent": parent}}]

    pools = {"a": entry("a", "b"), "b": entry("b", "a"), "c": entry("c", "a"), "s": entry("s", "s")}
    lookups = Lookups({}, {}, {}, pools)  # type: ignore[arg-type]
    assert lookups.pool_ancestors("a") == ["b", "a"] and lookups.pool_ancestors("s") == ["s"]
    assert lookups.pool_ancestors("c") == ["a", "b"]  # under the cycle, not in it
    assert lookups.pool_dependents("a") == ["ResourcePool c"]  # c names a; b is part of the cycle
    assert lookups.pool_dependents("b") == []
    assert lookups.pool_dependents("s") == []


def test_deletion_orphans_waits_while_in_use_or_removes() -> None:
    made = pool("team").model_copy(update={"status": pool("team").status.model_copy(
        update={"managed_object_id": "resgroup-9", "path": "/DC0/host/C0/Resources/team"})})
    orphan = plan_deletion(pool("team", deletionPolicy="Orphan"), ["ElasticCloudServer a/web"])
    assert (orphan.remove, orphan.done, orphan.reason) == (False, True, Reason.ORPHANED)
    users = [f"ElasticCloudServer a/web-{i}" for i in range(7)]
    busy = plan_deletion(made, users)
    assert (busy.remove, busy.done, busy.reason) == (False, False, Reason.IN_USE)
    assert busy.message.endswith("web-4 and 2 more")
    never_made = plan_deletion(pool("team"), [])
    assert (never_made.remove, never_made.done) == (False, True)
    gone = plan_deletion(made, [])
    assert (gone.remove, gone.done, gone.reason) == (True, True, Reason.DELETED)
