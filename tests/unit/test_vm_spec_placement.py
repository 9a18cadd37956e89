"""Where an ECS's VM goes and the pool it belongs in, from its zone, pins and ResourcePool: pure."""

from __future__ import annotations

from typing import Any

import pytest

from herder.api import AvailabilityZone, ElasticCloudServer
from herder.errors import NotSupported, Unresolvable
from herder.providers.types import SCVMMPlacement, VCenterPlacement
from herder.reasons import Reason
from herder.reconcile.ecs import PoolTarget
from herder.reconcile.vm_spec import Resolved, placement_of, pool_target, zone_scope

VCENTER = {"provider": {"kind": "VCenter", "name": "vc"},
           "vcenter": {"cluster": "C0", "datastore": "ds0", "network": "n", "folder": "vm"}}
SCVMM = {"provider": {"kind": "SCVMM", "name": "vmm"},
         "scvmm": {"hostGroup": "All Hosts\\Zone-A", "cloud": "Gold", "libraryShare": "\\\\lib\\s", "vmPath": "D:\\VMs",
                   "logicalNetwork": "Datacenter"}}


def resolved(zone: dict[str, Any], pool_path: str | None = None, **spec: Any) -> Resolved:
    server = ElasticCloudServer.model_validate({
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
        "spec": {"image": {"kind": "ClusterImage", "name": "ubuntu"}, "cpu": 1, "memory": "1Gi"} | spec})
    return Resolved(server, AvailabilityZone.model_validate({"metadata": {"name": "z"},
                                                             "spec": {"region": "r"} | zone}), None, pool_path)


def test_vcenter_pins_and_pool() -> None:
    r = resolved(VCENTER, "/DC0/host/C0/Resources/team", resourcePool="team",
                 placement={"host": "C0_H1", "datastore": "ds1"})
    assert placement_of(r) == VCenterPlacement(cluster="C0", host="C0_H1", datastore="ds1", network="n", folder="vm",
                                               resource_pool="/DC0/host/C0/Resources/team")
    assert pool_target(r) == PoolTarget("team", named=True)
    assert pool_target(resolved(VCENTER)) == PoolTarget("Resources")  # the cluster's root pool
    assert zone_scope(resolved(VCENTER)) == VCenterPlacement(cluster="C0", datastore="ds0", network="n", folder="vm")


def test_scvmm_pins_storage_path_and_cloud() -> None:
    r = resolved(SCVMM, "team", resourcePool="team", placement={"host": "hv-a2", "storagePath": "E:\\Fast"})
    assert placement_of(r) == SCVMMPlacement(host_group="All Hosts\\Zone-A", cloud="team", vm_path="D:\\VMs",
                                             logical_network="Datacenter", host="hv-a2", storage_path="E:\\Fast",
                                             library_share="\\\\lib\\s")
    assert pool_target(r) == PoolTarget("team", named=True)
    assert pool_target(resolved(SCVMM)) == PoolTarget("Gold")  # the zone's cloud


@pytest.mark.parametrize(("zone", "placement", "field"), [
    (VCENTER, {"storagePath": "D:\\VMs"}, "spec.placement.storagePath"),
    (SCVMM, {"datastore": "ds1"}, "spec.placement.datastore"),
])
def test_a_pin_of_the_other_backend_is_refused_naming_it(zone: dict[str, Any], placement: dict[str, str],
                                                         field: str) -> None:
    with pytest.raises(NotSupported, match=field.replace(".", r"\.")):
        placement_of(resolved(zone, placement=placement))


def test_a_zone_of_one_host_takes_no_other_host() -> None:
    zone = {"provider": VCENTER["provider"], "vcenter": {"host": "H0", "datastore": "ds0", "network": "n",
                                                         "folder": "vm"}}
    assert placement_of(resolved(zone, placement={"host": "/DC0/host/H0"})).host == "/DC0/host/H0"
    with pytest.raises(Unresolvable) as caught:
        placement_of(resolved(zone, placement={"host": "H1"}))
    assert caught.value.reason is Reason.PLACEMENT_NOT_IN_ZONE
