"""The quota planner: what servers and images take, admission of growth with the numbers, how many more fit, and
what the ECS and ECS-set planners do when the quota says no."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from herder.api import ElasticCloudServerSet
from herder.api.quota import QuotaLimits
from herder.providers.types import ObservedDisk, ObservedVM, PowerState, VCenterPlacement, VMSpec
from herder.reconcile.ecs import Desired, Recorded, Step, plan
from herder.reconcile.ecsset import Child, QuotaRoom, plan_set
from herder.reconcile.quota import (
    Quota,
    Usage,
    admit,
    describe,
    image_usage,
    metric_values,
    requested,
    room,
    server_usage,
)

GIB = 1024**3
SPEC = {"cpu": 2, "memory": "4Gi", "disks": {"os": {"size": "20Gi"}, "data": [{"name": "d", "size": "10Gi"}]}}
QUOTA = Quota.of("compute", QuotaLimits.model_validate({"servers": 5, "cpu": 10, "memory": "20Gi", "disk": "200Gi"}))


def test_a_server_asks_for_its_spec_with_the_image_filling_in_the_os_disk() -> None:
    assert requested(SPEC) == Usage(servers=1, cpu=2, memory_mib=4096, disk_bytes=30 * GIB)
    assert requested({"cpu": 1, "memory": "1Gi"}, os_disk_bytes=10 * GIB) == Usage(1, 1, 1024, 10 * GIB)


@pytest.mark.parametrize(("status", "takes"), [
    ({}, Usage()),  # nothing made yet: takes nothing
    ({"conditions": [{"type": "Ready", "status": "False", "reason": "QuotaExceeded"}]}, Usage()),  # refused
    ({"pendingTask": {"id": "t", "operation": "create"}}, Usage(1, 2, 4096, 30 * GIB)),  # being made
    # made: as observed (a resize that was refused does not count)
    ({"uniqueID": "u", "cpu": 1, "memory": "2Gi", "disks": [{"name": "os", "size": str(20 * GIB)}]},
     Usage(1, 1, 2048, 20 * GIB)),
    # being resized: the larger of the two
    ({"uniqueID": "u", "cpu": 4, "memory": "2Gi", "disks": [{"name": "os", "size": str(20 * GIB)}],
      "pendingTask": {"id": "t", "operation": "reconfigure"}}, Usage(1, 4, 4096, 30 * GIB)),
])
def test_what_a_server_takes_by_its_stored_status(status: dict[str, Any], takes: Usage) -> None:
    assert server_usage(SPEC, status) == takes


def test_an_image_takes_one_once_it_holds_or_makes_a_template() -> None:
    assert image_usage({}) == Usage()
    assert image_usage({"uniqueID": "t"}) == image_usage({"pendingTask": {"id": "x"}}) == Usage(images=1)


def test_admission_refuses_growth_past_a_limit_with_the_numbers() -> None:
    used = Usage(servers=4, cpu=8, memory_mib=16384, disk_bytes=120 * GIB)
    assert admit([QUOTA], used, Usage(), Usage(1, 2, 4096, 30 * GIB)) is None  # exactly at every limit
    why = admit([QUOTA], used, Usage(), Usage(1, 4, 4096, 30 * GIB))
    assert why == "ServerQuota compute: vCPUs 8 in use + 4 requested > 10 allowed"
    both = admit([QUOTA], used, Usage(), Usage(1, 4, 8192, 30 * GIB))
    assert both == ("ServerQuota compute: vCPUs 8 in use + 4 requested > 10 allowed, memory 16Gi in use + 8Gi "
                    "requested > 20Gi allowed")


def test_a_resize_is_counted_by_what_it_adds() -> None:
    used = Usage(servers=3, cpu=9, memory_mib=6144)
    held = Usage(1, 3, 2048)
    assert admit([QUOTA], used, held, Usage(1, 4, 2048)) is None  # 9 - 3 + 4 = 10
    assert "vCPUs 9 in use + 2 requested > 10" in (admit([QUOTA], used, held, Usage(1, 5, 2048)) or "")


def test_a_quota_lowered_below_use_blocks_growth_but_nothing_that_does_not_grow() -> None:
    lowered = Quota("compute", servers=2, cpu=2)
    used, held = Usage(servers=4, cpu=8), Usage(1, 2)
    assert admit([lowered], used, held, held) is None  # unchanged: never refused
    assert admit([lowered], used, held, Usage(1, 1)) is None  # shrinking: never refused
    assert admit([lowered], used, Usage(), Usage(1, 1)) == (
        "ServerQuota compute: servers 4 in use + 1 requested > 2 allowed, vCPUs 8 in use + 1 requested > 2 allowed")


def test_every_quota_of_the_namespace_applies() -> None:
    images = Quota("images", images=1)
    assert admit([QUOTA, images], Usage(images=1), Usage(), Usage(images=1)) == (
        "ServerQuota images: images 1 in use + 1 requested > 1 allowed")


def test_room_counts_how_many_more_fit() -> None:
    each = Usage(1, 2, 4096, 30 * GIB)
    assert room([QUOTA], Usage(), each) == 5  # servers 5, vCPUs 5, memory 5, disk 6
    assert room([QUOTA], Usage(servers=1, cpu=5), each) == 2
    assert room([QUOTA], Usage(servers=7), each) == 0  # over: none, never negative
    assert room([Quota("only-images", images=3)], Usage(), each) is None  # nothing limits servers


def test_status_and_metrics_read_the_same_numbers() -> None:
    used = Usage(servers=5, cpu=6, memory_mib=6144, disk_bytes=60 * GIB)
    assert used.status() == {"servers": 5, "cpu": 6, "memory": "6Gi", "disk": "60Gi", "images": 0}
    assert describe(QUOTA, used) == "servers 5/5, vCPUs 6/10, memory 6Gi/20Gi, disk 60Gi/200Gi; no more servers " \
        "(growth is refused)"
    hard, in_use = metric_values(QUOTA, used)
    assert hard == {"servers": 5.0, "cpu": 10.0, "memory": 20.0 * GIB, "disk": 200.0 * GIB}
    assert in_use == {"servers": 5.0, "cpu": 6.0, "memory": 6.0 * GIB, "disk": 60.0 * GIB}


# -- the planners when the quota says no -----------------------------------------------------------------------

VM_SPEC = VMSpec(uid="u1", name="ns.web", template="t", cpu=4, memory_mib=4096, placement=VCenterPlacement())
VM = ObservedVM(unique_id="u1", ref="vm-1", name="ns.web", power=PowerState.ON, cpu=2, memory_mib=4096,
                disks=(ObservedDisk("2000", 10 * GIB, is_os_disk=True),), cpu_hot_add=True)
NO = "ServerQuota compute: vCPUs 10 in use + 2 requested > 10 allowed"


def _conditions(p: Any) -> dict[str, tuple[bool, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in p.conditions}


def test_a_create_over_quota_is_not_made() -> None:
    p = plan(Desired(VM_SPEC, quota_refused=NO), None, Recorded())
    assert p.step is Step.NONE
    status, reason, message = _conditions(p)["Provisioned"]
    assert (status, reason) == (False, "QuotaExceeded") and message.startswith(NO)
    assert _conditions(p)["Ready"][1] == "QuotaExceeded"


def test_an_adoption_over_quota_writes_no_mark() -> None:
    foreign = replace(VM, unique_id="other", owner_uid=None)
    assert plan(Desired(VM_SPEC, adopt_unique_id="other"), foreign, Recorded()).step is Step.ADOPT
    refused = plan(Desired(VM_SPEC, adopt_unique_id="other", quota_refused=NO), foreign, Recorded())
    assert refused.step is Step.NONE and _conditions(refused)["Provisioned"][1] == "QuotaExceeded"


def test_a_resize_over_quota_is_held_while_power_still_follows_the_spec() -> None:
    assert plan(Desired(VM_SPEC), VM, Recorded(unique_id="u1")).step is Step.RECONFIGURE
    held = plan(Desired(VM_SPEC, quota_refused=NO), VM, Recorded(unique_id="u1"))
    assert held.step is Step.NONE and held.change.is_empty()
    assert _conditions(held)["ConfigSynced"][:2] == (False, "QuotaExceeded")
    assert _conditions(held)["Provisioned"][:2] == (True, "Provisioned")
    off = plan(Desired(replace(VM_SPEC, power=PowerState.OFF), quota_refused=NO), VM, Recorded(unique_id="u1"))
    assert off.step is Step.POWER and off.power is PowerState.OFF


SET = ElasticCloudServerSet.model_validate({
    "metadata": {"name": "w", "namespace": "ns", "uid": "s1"},
    "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "w"}},
             "template": {"metadata": {"labels": {"app": "w"}},
                          "spec": {"image": {"name": "img"}, "cpu": 2, "memory": "2Gi"}}}})


def test_a_set_stops_at_the_limit_and_says_why() -> None:
    children = [Child("w-0", uid="c0", ready=True), Child("w-1", uid="c1", ready=True)]
    unlimited = plan_set(SET, children)
    assert unlimited.create == ("w-2", "w-3", "w-4")
    stopped = plan_set(SET, children, QuotaRoom(1, "ServerQuota compute: servers 3 in use + 1 requested > 3 allowed"))
    assert stopped.create == ("w-2",)
    assert (stopped.ready.status, stopped.ready.reason) == (False, "QuotaExceeded")
    assert stopped.ready.message == ("3 of 5 servers made, no more: ServerQuota compute: servers 3 in use + 1 "
                                     "requested > 3 allowed")
    full = plan_set(SET, children, QuotaRoom(0, "no"))
    assert full.create == () and full.delete == () and full.ready.reason == "QuotaExceeded"
