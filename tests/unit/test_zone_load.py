"""What an ECS counts against its zone's free memory (the scheduler's load index): only memory about to be
taken, not what the zone's measured use already shows, nor what a stuck server never will take."""

from __future__ import annotations

from typing import Any

import pytest

from herder.controllers.lookups import server_zone_index

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
    assert server_zone_index(spec=spec, status=status) == {"z1": counted}


def test_a_server_without_a_zone_is_not_indexed() -> None:
    assert server_zone_index(spec={"memory": "1Gi"}, status={}) is None
