"""AvailabilityZone passes against the fake provider: capacity measured, a missing placement object named."""

from __future__ import annotations

from fakes.harness import VCENTER, Body, Harness, reason, zone
from herder.controllers.shared.daemon import Pass
from herder.controllers.zone.sync import CAPACITY_REFRESH_SECONDS, observe_zone, zone_failed
from herder.errors import HerderError
from herder.providers.types import ZoneCapacity


def zone_pass(harness: Harness, body: Body) -> Pass:
    try:
        return observe_zone(harness.runtime, body)
    except HerderError as exc:
        return zone_failed(harness.runtime, body, exc)


def test_a_zone_reports_its_hosts_capacity(harness: Harness) -> None:
    harness.fake.zones.clusters["DC0_C0"] = ZoneCapacity(ref="domain-c9", hosts=2, cpus=32, memory_mib=131072,
                                                         memory_used_mib=32768)
    result = zone_pass(harness, zone())
    status = result.status
    assert status["managedObjectID"] == "domain-c9"
    assert status["capacity"] == {"hosts": 2, "cpus": 32, "memory": "128Gi", "memoryUsed": "32Gi",
                                  "memoryFree": "96Gi"}
    assert reason(status) == "Ready" and "2 hosts, 96Gi of 128Gi memory free" in status["conditions"][0]["message"]
    assert result.delay == CAPACITY_REFRESH_SECONDS


def test_a_missing_placement_object_is_named_and_retried(harness: Harness) -> None:
    result = zone_pass(harness, zone(datastore="NoSuchDS"))
    assert reason(result.status) == "NotFound"
    assert "datastore 'NoSuchDS'" in result.status["conditions"][0]["message"]
    assert result.failed and result.delay == 2.0


def test_a_zone_on_a_disconnected_provider_waits_for_it(harness: Harness) -> None:
    harness.runtime.providers[VCENTER].ready = False
    result = zone_pass(harness, zone())
    assert reason(result.status) == "ProviderNotReady"
    assert harness.fake.calls == []
