"""The zone scheduler and label selectors: pure decisions."""

from __future__ import annotations

from herder.api.selectors import LabelSelector
from herder.reconcile.selectors import selector_matches
from herder.reconcile.zone import ZoneCandidate, ZoneRequest, choose_zone

VC = ("VCenter", "vc")
VMM = ("SCVMM", "vmm")


def sel(**body: object) -> LabelSelector:
    return LabelSelector.model_validate(body)


def test_selector_semantics() -> None:
    labels = {"team": "a", "env": "prod"}
    assert selector_matches(None, labels)
    assert selector_matches(sel(), labels)
    assert selector_matches(sel(matchLabels={"team": "a"}), labels)
    assert not selector_matches(sel(matchLabels={"team": "b"}), labels)
    assert selector_matches(sel(matchExpressions=[{"key": "env", "operator": "In", "values": ["prod", "qa"]}]), labels)
    assert not selector_matches(sel(matchExpressions=[{"key": "env", "operator": "NotIn", "values": ["prod"]}]),
                                labels)
    assert selector_matches(sel(matchExpressions=[{"key": "team", "operator": "Exists"}]), labels)
    assert not selector_matches(sel(matchExpressions=[{"key": "x", "operator": "Exists"}]), labels)
    assert selector_matches(sel(matchExpressions=[{"key": "x", "operator": "DoesNotExist"}]), labels)
    assert not selector_matches(sel(matchExpressions=[{"key": "x", "operator": "In", "values": ["1"]}]), {})


def test_unknown_capacity_spreads_by_server_count_then_name() -> None:
    zones = [ZoneCandidate("b", VC, servers=1), ZoneCandidate("a", VC, servers=1), ZoneCandidate("c", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=1024), zones)
    assert choice.zone == "c"
    assert "c (capacity unknown, 0 servers)" in choice.message
    tie = choose_zone(ZoneRequest(memory_mib=1024), [ZoneCandidate("b", VC), ZoneCandidate("a", VC)])
    assert tie.zone == "a"


def test_most_free_memory_wins_and_zones_that_do_not_fit_are_left_out() -> None:
    zones = [ZoneCandidate("small", VC, memory_capacity_mib=4096, memory_used_mib=3072),
             ZoneCandidate("big", VC, memory_capacity_mib=65536, memory_used_mib=1024),
             ZoneCandidate("mid", VC, memory_capacity_mib=32768),
             ZoneCandidate("unknown", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=2048), zones)
    assert choice.zone == "big"
    assert ("small", "1024 MiB memory free, 2048 MiB needed") in choice.rejected
    assert "most free memory" in choice.message


def test_image_provider_and_connection_filter() -> None:
    zones = [ZoneCandidate("a-vmm", VMM), ZoneCandidate("b-vc", VC, provider_ready=False), ZoneCandidate("c-vc", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=512, image_provider=VC, image="ClusterImage/u"), zones)
    assert choice.zone == "c-vc"
    reasons = dict(choice.rejected)
    assert reasons["a-vmm"] == "image ClusterImage/u is on VCenter vc, not SCVMM vmm"
    assert reasons["b-vc"] == "VCenter vc is not connected"
    assert "not eligible: a-vmm" in choice.message


def test_no_hosts_and_nothing_fits() -> None:
    choice = choose_zone(ZoneRequest(memory_mib=512), [ZoneCandidate("a", VC, hosts=0)])
    assert choice.zone is None and choice.reason == "NoZoneAvailable"
    assert "a: no connected hosts" in choice.message
    assert choose_zone(ZoneRequest(memory_mib=512), []).zone is None


def test_a_resource_pool_pins_its_zone_and_its_namespaces() -> None:
    zones = [ZoneCandidate("a", VC), ZoneCandidate("b", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=512, pool_zone="b", pool="gold"), zones)
    assert choice.zone == "b"
    assert dict(choice.rejected)["a"] == "ResourcePool gold is in zone b"
    denied = choose_zone(ZoneRequest(memory_mib=512, pool_zone="b", pool="gold", namespace_allowed=False), zones)
    assert denied.zone is None and denied.reason == "ResourcePoolNotAllowed"


def test_deterministic_regardless_of_input_order() -> None:
    zones = [ZoneCandidate(n, VC, memory_capacity_mib=8192) for n in ("z", "m", "a")]
    assert {choose_zone(ZoneRequest(memory_mib=1), order).zone for order in (zones, zones[::-1])} == {"a"}


def test_memory_placed_but_not_yet_running_counts_against_the_zone() -> None:
    # Same hosts, same measured use: the zone already promised to a starting server has less room.
    zones = [ZoneCandidate("a", VC, memory_capacity_mib=8192, memory_used_mib=1024, memory_pending_mib=4096),
             ZoneCandidate("b", VC, memory_capacity_mib=8192, memory_used_mib=1024)]
    choice = choose_zone(ZoneRequest(memory_mib=2048), zones)
    assert choice.zone == "b"
    assert "a (3072 MiB free, 0 servers)" in choice.message and "b (7168 MiB free" in choice.message
    assert choose_zone(ZoneRequest(memory_mib=4096), zones[:1]).zone is None


def test_a_set_spreads_first_then_takes_free_memory() -> None:
    zones = [ZoneCandidate("a", VC, memory_capacity_mib=65536, servers=1),
             ZoneCandidate("b", VC, memory_capacity_mib=8192, servers=0),
             ZoneCandidate("c", VC, memory_capacity_mib=16384, servers=0)]
    spread = choose_zone(ZoneRequest(memory_mib=1024, spread=True), zones)
    assert spread.zone == "c"  # fewest of the set's servers (b, c), then most free memory
    assert "fewest servers of the set" in spread.message
    assert choose_zone(ZoneRequest(memory_mib=1024), zones).zone == "a"  # a lone server: most free memory


def test_a_zone_whose_placement_is_broken_is_left_out() -> None:
    zones = [ZoneCandidate("a", VC, not_ready="datastore 'gone' does not exist"), ZoneCandidate("b", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=512), zones)
    assert choice.zone == "b"
    assert dict(choice.rejected)["a"] == "zone not ready: datastore 'gone' does not exist"


def test_a_zone_closed_to_the_namespace_is_left_out() -> None:
    zones = [ZoneCandidate("a", VC, namespace_allowed=False), ZoneCandidate("b", VC)]
    choice = choose_zone(ZoneRequest(memory_mib=512, namespace="team-x"), zones)
    assert choice.zone == "b"
    assert dict(choice.rejected)["a"] == "namespace team-x is not allowed (spec.allowedNamespaces)"


def test_a_region_limits_the_choice_to_its_zones_and_a_set_spreads_over_them() -> None:
    zones = [ZoneCandidate("eu-1a", VC, region="eu-1", memory_capacity_mib=8192, servers=1),
             ZoneCandidate("eu-1b", VC, region="eu-1", memory_capacity_mib=4096),
             ZoneCandidate("us-1a", VC, region="us-1", memory_capacity_mib=65536)]
    choice = choose_zone(ZoneRequest(memory_mib=1024, region="eu-1"), zones)
    assert choice.zone == "eu-1a"  # most free memory within the region; the bigger zone elsewhere does not count
    assert ("us-1a", "in region us-1, not eu-1") in choice.rejected
    assert choose_zone(ZoneRequest(memory_mib=1024, region="eu-1", spread=True), zones).zone == "eu-1b"
    assert choose_zone(ZoneRequest(memory_mib=1024), zones).zone == "us-1a"  # no region: any
    nowhere = choose_zone(ZoneRequest(memory_mib=1024, region="ap-1"), zones)
    assert nowhere.zone is None and "eu-1a: in region eu-1, not ap-1" in nowhere.message


def test_a_zone_that_does_not_allow_a_named_network_is_left_out() -> None:
    zones = [ZoneCandidate("a", VC, allowed_networks=frozenset({"vm network"})), ZoneCandidate("b", VC),
             ZoneCandidate("c", VC, allowed_networks=frozenset({"vm network", "dmz"}))]
    choice = choose_zone(ZoneRequest(memory_mib=512, networks=("DMZ",)), [zones[0], zones[2]])
    assert choice.zone == "c"
    assert dict(choice.rejected)["a"] == "network DMZ is not allowed (spec.allowedNetworks)"
    # The zone's default network needs no permission: a server naming none fits any zone.
    assert choose_zone(ZoneRequest(memory_mib=512), [zones[0]]).zone == "a"
    assert choose_zone(ZoneRequest(memory_mib=512, networks=("DMZ",)), zones[:2]).zone == "b"
