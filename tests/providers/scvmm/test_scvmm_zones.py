"""Zone capacity on SCVMM: the host group's hosts as the simulator's state has them."""

from __future__ import annotations

import pytest
from scvmm_world import World
from test_scvmm_servers import created, spec

from herder.errors import NotFound
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import SCVMMPlacement


def _hosts(world: World, group: str) -> list[dict[str, object]]:
    return [h for h in world.admin("GET", "/admin/state")["hosts"] if h["host_group"] == group]


def test_a_host_group_is_measured_from_its_hosts(world: World, provider: SCVMMProvider) -> None:
    hosts = _hosts(world, "All Hosts\\Zone-A")
    assert hosts, "the simulator seed has hosts in Zone-A"
    before = provider.zones.capacity(SCVMMPlacement(host_group="All Hosts\\Zone-A"))
    assert before is not None
    assert before.hosts == len(hosts)
    assert before.cpus == sum(int(h["cpu_count"]) for h in hosts)  # type: ignore[call-overload]
    assert before.memory_mib == sum(int(h["memory_mb"]) for h in hosts)  # type: ignore[call-overload]
    assert before.cpu_mhz is None

    created(provider, spec(memory_mib=4096))  # a running VM uses host memory
    after = provider.zones.capacity(SCVMMPlacement(host_group="Zone-A"))  # by name, too
    assert after is not None
    assert after.ref == before.ref and after.memory_used_mib == before.memory_used_mib + 4096


def test_a_cloud_only_zone_is_checked_but_not_measured(provider: SCVMMProvider) -> None:
    assert provider.zones.capacity(SCVMMPlacement(cloud="Cloud-Gold")) is None


@pytest.mark.parametrize(("where", "named"), [
    (SCVMMPlacement(host_group="All Hosts\\Zone-Z"), "Zone-Z"),
    (SCVMMPlacement(cloud="Cloud-Nope"), "Cloud-Nope"),
])
def test_a_missing_host_group_or_cloud_is_not_found(provider: SCVMMProvider, where: SCVMMPlacement,
                                                    named: str) -> None:
    with pytest.raises(NotFound, match=named):
        provider.zones.capacity(where)


def test_a_zones_members_are_its_host_groups_hosts_and_their_paths(world: World, provider: SCVMMProvider) -> None:
    """What pins are checked against: the host group's hosts by name, the zone's vmPath and the hosts' VMPaths."""
    members = provider.zones.members(SCVMMPlacement(host_group="All Hosts\\Zone-A", vm_path="D:\\VMs"))
    assert sorted(members.hosts) == sorted(str(h["name"]) for h in _hosts(world, "All Hosts\\Zone-A"))
    assert members.storage[0] == "D:\\VMs" and "C:\\ClusterStorage\\Volume1" in members.storage
    cloud = provider.zones.members(SCVMMPlacement(cloud="Cloud-Dev"))  # a cloud's host groups
    assert sorted(cloud.hosts) == sorted(str(h["name"]) for h in _hosts(world, "All Hosts\\Zone-B"))
