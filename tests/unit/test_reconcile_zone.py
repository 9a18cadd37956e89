"""The zone planner's readings: what an ECS counts against its zone's free memory (only memory about to be
taken, not what the zone's measured use already shows, nor what a stuck server never will take), and what a
zone's status says of its capacity."""

from __future__ import annotations

from typing import Any

import pytest

from herder.providers.types import ZoneCapacity
from herder.reconcile.zone import capacity_fields, pending_memory, zone_ready

SPEC = {"availabilityZone": "z1", "memory": "2Gi"}


@pytest.mark.parametrize(("spec", "status", "counted"), [
    (SPEC, {"pendingTask": {"id": "task-1", "operation": "create"}}, 2048),  # being created
    (SPEC, {"uniqueID": "vm-1", "powerState": "Off"}, 2048),  # made, not running yet
    (SPEC, {"uniqueID": "vm-1", "powerState": "On"}, 0),  # running: in the measured use
    (SPEC, {"conditions": [{"type": "Provisioned", "status": "False", "reason": "ImageNotFound"}]}, 0),  # stuck
    (SPEC | {"powerState": "Off"}, {"uniqueID": "vm-1", "powerState": "Off"}, 0),  # meant to be off
    ({"memory": "2Gi"}, {"zone": "z1", "pendingTask": {"id": "t", "operation": "create"}}, 2048),  # scheduled
])
def test_memory_counted_against_the_zone(spec: dict[str, Any], status: dict[str, Any], counted: int) -> None:
    assert pending_memory(spec, status) == {"z1": counted}


def test_a_server_without_a_zone_is_not_indexed() -> None:
    assert pending_memory({"memory": "1Gi"}, {}) == {}


def test_a_measured_zone_is_ready_with_its_free_memory_and_an_unmeasured_one_says_so() -> None:
    capacity = ZoneCapacity("domain-c7", hosts=2, cpus=16, memory_mib=16384, memory_used_mib=20480)
    ready = zone_ready(capacity, "VCenter vc")
    assert ready.status and ready.message == "2 hosts, 0Mi of 16Gi memory free"  # overcommitted: clamped at 0
    assert capacity_fields(capacity)["capacity"] == {"hosts": 2, "cpus": 16, "memory": "16Gi", "memoryUsed": "20Gi",
                                                     "memoryFree": "0Mi"}
    cloud = zone_ready(None, "SCVMM vmm")
    assert cloud.status and "capacity not measured" in cloud.message
    assert capacity_fields(None) == {"capacity": None}
