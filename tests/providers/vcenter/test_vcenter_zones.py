"""Zone capacity on vCenter against vcsim, with govc's host view as the witness."""

from __future__ import annotations

import json

import pytest
from vcsim_world import Vcsim

from herder.errors import NotFound
from herder.providers.types import VCenterPlacement
from herder.providers.vcenter import VCenterProvider

_MIB = 1024 * 1024


def _zone(**kwargs: str) -> VCenterPlacement:
    values = {"datastore": "LocalDS_0", "network": "VM Network", "folder": "vm", **kwargs}
    return VCenterPlacement(**values)


def _hosts(vcsim: Vcsim, path: str) -> list[dict[str, object]]:
    names = vcsim.govc("find", path, "-type", "h").split()
    return [json.loads(vcsim.govc("object.collect", "-json", "-s", name, "summary")) for name in names]


def test_a_cluster_is_measured_from_its_hosts(provider: VCenterProvider, vcsim: Vcsim) -> None:
    capacity = provider.zones.capacity(_zone(cluster="DC0_C0"))
    assert capacity is not None
    hosts = _hosts(vcsim, "/DC0/host/DC0_C0")
    hardware = [h["hardware"] for h in hosts]
    stats = [h["quickStats"] for h in hosts]
    assert capacity.hosts == len(hosts) > 1
    assert capacity.memory_mib == sum(hw["memorySize"] for hw in hardware) // _MIB  # type: ignore[index]
    assert capacity.cpu_mhz == sum(hw["cpuMhz"] * hw["numCpuCores"] for hw in hardware)  # type: ignore[index]
    assert capacity.cpus == sum(hw["numCpuThreads"] for hw in hardware)  # type: ignore[index]
    assert capacity.memory_used_mib == sum(s["overallMemoryUsage"] for s in stats)  # type: ignore[index]
    clusters = vcsim.govc("find", "-i", "/DC0/host", "-type", "c", "-name", "DC0_C0").split()
    assert [f"ClusterComputeResource:{capacity.ref}"] == clusters


def test_a_host_in_maintenance_mode_does_not_count(provider: VCenterProvider, vcsim: Vcsim) -> None:
    before = provider.zones.capacity(_zone(cluster="DC0_C0"))
    assert before is not None
    vcsim.govc("host.maintenance.enter", "/DC0/host/DC0_C0/DC0_C0_H1")
    try:
        during = provider.zones.capacity(_zone(cluster="DC0_C0"))
        assert during is not None
        assert during.hosts == before.hosts - 1 and during.memory_mib < before.memory_mib
    finally:
        vcsim.govc("host.maintenance.exit", "/DC0/host/DC0_C0/DC0_C0_H1")


def test_a_standalone_host_zone(provider: VCenterProvider) -> None:
    capacity = provider.zones.capacity(_zone(host="DC0_H0"))
    assert capacity is not None and capacity.hosts == 1


@pytest.mark.parametrize(("override", "named"), [
    ({"cluster": "DC0_C9"}, "DC0_C9"),
    ({"cluster": "DC0_C0", "datastore": "NoSuchDS"}, "NoSuchDS"),
    ({"cluster": "DC0_C0", "network": "no-such-net"}, "no-such-net"),
    ({"cluster": "DC0_C0", "folder": "vm/missing"}, "missing"),
])
def test_a_placement_naming_something_missing_is_not_found(provider: VCenterProvider, override: dict[str, str],
                                                            named: str) -> None:
    with pytest.raises(NotFound, match=named):
        provider.zones.capacity(_zone(**override))


def test_a_zones_members_are_its_hosts_and_the_datastores_it_mounts(provider: VCenterProvider, vcsim: Vcsim) -> None:
    """What pins are checked against, as govc lists them."""
    members = provider.zones.members(_zone(cluster="DC0_C0"))
    hosts = [path.rsplit("/", 1)[-1] for path in vcsim.govc("find", "/DC0/host/DC0_C0", "-type", "h").split()]
    assert sorted(members.hosts) == sorted(hosts) and len(hosts) > 1
    mounted = json.loads(vcsim.govc("object.collect", "-json", "-s", "/DC0/host/DC0_C0", "datastore"))
    assert len(members.storage) == len(mounted) and "LocalDS_0" in members.storage
    alone = provider.zones.members(_zone(host="DC0_H0"))
    assert alone.hosts == ("DC0_H0",) and "LocalDS_0" in alone.storage
