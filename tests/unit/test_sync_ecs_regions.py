"""Regions against the fake provider: a server naming a region is placed in one of its zones only, and a named
zone outside it is refused before anything is made."""

from __future__ import annotations

import pytest

from fakes.harness import Harness, advance, condition, reason, server, zone
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.errors import HerderError
from herder.reasons import Reason


def test_a_server_naming_a_region_is_placed_in_one_of_its_zones(harness: Harness) -> None:
    other = zone("eu-1a")
    other["spec"]["region"] = "eu-1"
    harness.add(other)
    body, _ = harness.sync(server(availabilityZone=None, region="eu-1"))
    assert body["status"]["zone"] == "eu-1a"
    assert body["status"]["pendingTask"]["operation"] == "create"
    anywhere, _ = harness.sync(server("anywhere", availabilityZone=None))
    assert anywhere["status"]["zone"] in {"dc0-c0", "eu-1a"}


def test_a_zone_outside_the_named_region_is_refused_and_nothing_is_made(harness: Harness) -> None:
    body = server(region="eu-1")  # dc0-c0 is in region-1
    with pytest.raises(HerderError) as caught:
        sync_server(harness.runtime, body, harness.lookups)
    body = advance(body, server_failed(harness.runtime, body, caught.value))
    assert reason(body["status"], "Provisioned") == "ZoneNotInRegion"
    assert "region-1, not in spec.region eu-1" in condition(body["status"], "Provisioned")["message"]
    assert harness.fake.vms.all() == []


def test_a_region_with_no_zone_is_no_zone_available(harness: Harness) -> None:
    body = server(availabilityZone=None, region="ap-1")
    with pytest.raises(HerderError) as caught:
        sync_server(harness.runtime, body, harness.lookups)
    assert caught.value.reason is Reason.NO_ZONE_AVAILABLE
    assert "dc0-c0: in region region-1, not ap-1" in str(caught.value)
