"""AvailabilityZones against vcsim and the SCVMM simulator: measured capacity (read back with govc and the
simulator's state), a broken placement reported and left out by the scheduler, and a server too big for
every zone that waits with the reason, then is placed once it fits."""

from __future__ import annotations

import json
from typing import Any

from e2e_world import (
    SCVMM_ZONE,
    ZONES,
    Govc,
    ScvmmSim,
    apply,
    condition_is,
    conditions,
    ecs_manifest,
    patch_spec,
    status_of,
    wait_for,
    wait_ready,
)
from test_metrics_scrape import scrape, total
from test_placement import events_of

from herder.api import quantity_to_mib
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

MIB = 1024**2


def measured(stack: StackState, zone: str) -> dict[str, Any] | None:
    status = condition_is(stack, "az", zone, None, "Ready", "True")
    return status if status and status.get("capacity") else None


def govc_hosts(govc: Govc, cluster: str) -> list[dict[str, Any]]:
    names = govc("find", f"/DC0/host/{cluster}", "-type", "h").stdout.split()
    return [json.loads(govc("object.collect", "-json", "-s", name, "summary").stdout) for name in names]


def test_zones_report_the_capacity_the_backends_have(stack: StackState, operator: OperatorProcess,
                                                     govc: Govc) -> None:
    for zone, cluster in ZONES.items():
        status = wait_for(lambda zone=zone: measured(stack, zone), timeout=30, what=f"zone {zone} measured")
        capacity = status["capacity"]
        hosts = govc_hosts(govc, cluster)
        memory = sum(h["hardware"]["memorySize"] for h in hosts) // MIB
        used = sum(h["quickStats"]["overallMemoryUsage"] for h in hosts)
        assert capacity["hosts"] == len(hosts)
        assert quantity_to_mib(capacity["memory"]) == memory
        assert quantity_to_mib(capacity["memoryUsed"]) == used
        assert quantity_to_mib(capacity["memoryFree"]) == memory - used
        assert capacity["cpuMHz"] == sum(h["hardware"]["cpuMhz"] * h["hardware"]["numCpuCores"] for h in hosts)
        assert status["managedObjectID"] in govc("find", "-i", "/DC0/host", "-type", "c", "-name", cluster).stdout
        samples = scrape(operator)
        assert total(samples, "herder_zone_hosts", zone=zone) == len(hosts)
        assert total(samples, "herder_zone_memory_bytes", zone=zone) == memory * MIB
    table = stack.kubectl("get", "az", next(iter(ZONES))).stdout
    assert "HOSTS" in table and "FREE MEMORY" in table

    sim_hosts = [h for h in ScvmmSim(stack).state()["hosts"] if h["host_group"] == "All Hosts\\Zone-A"]
    status = wait_for(lambda: measured(stack, SCVMM_ZONE), timeout=30, what="the SCVMM zone measured")
    assert status["capacity"]["hosts"] == len(sim_hosts)
    assert quantity_to_mib(status["capacity"]["memory"]) == sum(h["memory_mb"] for h in sim_hosts)
    assert status["capacity"]["cpus"] == sum(h["cpu_count"] for h in sim_hosts)


def test_a_zone_with_a_missing_datastore_is_not_ready_and_not_chosen(stack: StackState, operator: OperatorProcess,
                                                                    namespace: str) -> None:
    broken = "e2e-broken"
    zone = {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": broken},
            "spec": {"region": "region-1", "provider": {"kind": "VCenter", "name": "vcsim"},
                     "vcenter": {"cluster": "DC0_C0", "datastore": "NoSuchDS", "network": "VM Network",
                                 "folder": "vm"}}}
    apply(stack, zone)
    try:
        status = wait_for(lambda: condition_is(stack, "az", broken, None, "Ready", "False", "NotFound"),
                          timeout=30, what="the broken zone NotFound")
        assert "NoSuchDS" in conditions(status)["Ready"]["message"]

        apply(stack, ecs_manifest("elsewhere", availabilityZone=None), namespace=namespace)
        assert wait_ready(stack, namespace, "elsewhere")["zone"] in ZONES
        events = wait_for(lambda: events_of(stack, namespace, "elsewhere", "ZoneChosen"), timeout=30,
                          what="the ZoneChosen Event")
        assert f"{broken}: zone not ready: datastore 'NoSuchDS'" in str(events[0]["message"])

        # Fixing the spec is all it takes: the zone is measured and Ready again.
        stack.kubectl("patch", "az", broken, "--type=merge", "-p",
                      json.dumps({"spec": {"vcenter": {"datastore": "LocalDS_0"}}}))
        wait_for(lambda: measured(stack, broken), timeout=30, what="the repaired zone Ready and measured")
    finally:
        stack.kubectl("delete", "az", broken, "--ignore-not-found")


def test_a_server_no_zone_can_hold_waits_with_the_reason_then_is_placed(stack: StackState,
                                                                        operator: OperatorProcess,
                                                                        namespace: str) -> None:
    free = {z: quantity_to_mib(wait_for(lambda z=z: measured(stack, z), timeout=30,
                                        what=f"zone {z} measured")["capacity"]["memoryFree"]) for z in ZONES}
    too_big = max(free.values()) + 1024
    apply(stack, ecs_manifest("huge", availabilityZone=None, memory=f"{too_big}Mi"), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "huge", namespace, "Provisioned", "False",
                                           "NoZoneAvailable"), timeout=30, what="NoZoneAvailable")
    message = conditions(status)["Provisioned"]["message"]
    for zone in ZONES:
        assert f"{zone}: " in message and f"{too_big} MiB needed" in message, message
    assert "zone" not in status_of(stack, "ecs", "huge", namespace)

    patch_spec(stack, namespace, "huge", {"memory": "1Gi"})
    assert wait_ready(stack, namespace, "huge", timeout=150)["zone"] in ZONES


def test_a_zone_open_to_some_namespaces_only(stack: StackState, operator: OperatorProcess, govc: Govc,
                                           namespace: str) -> None:
    closed = "e2e-members-only"
    zone = {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": closed},
            "spec": {"region": "region-1", "provider": {"kind": "VCenter", "name": "vcsim"},
                     "allowedNamespaces": {"matchLabels": {"herder.dev/members": "yes"}},
                     "vcenter": {"cluster": "DC0_C1", "datastore": "LocalDS_0", "network": "VM Network",
                                 "folder": "vm"}}}
    apply(stack, zone)
    try:
        wait_for(lambda: measured(stack, closed), timeout=30, what="the zone Ready")
        apply(stack, ecs_manifest("pinned", availabilityZone=closed, memory="512Mi"),
              ecs_manifest("free", availabilityZone=None, memory="512Mi"), namespace=namespace)
        status = wait_for(lambda: condition_is(stack, "ecs", "pinned", namespace, "Provisioned", "False",
                                               "ZoneNotAllowed"), timeout=30, what="ZoneNotAllowed")
        assert namespace in conditions(status)["Provisioned"]["message"]
        assert govc.vm(f"{namespace}.pinned") is None
        assert wait_ready(stack, namespace, "free")["zone"] in ZONES
        events = wait_for(lambda: events_of(stack, namespace, "free", "ZoneChosen"), timeout=30,
                          what="the ZoneChosen Event")
        assert f"{closed}: namespace {namespace} is not allowed" in str(events[0]["message"])

        # Labelling the namespace opens the zone: the pinned server is made there.
        stack.kubectl("label", "namespace", namespace, "herder.dev/members=yes")
        wait_ready(stack, namespace, "pinned", timeout=90)
        vm = govc.vm(f"{namespace}.pinned")
        assert vm is not None
        assert "DC0_C1" in govc("ls", "-L", f"ResourcePool:{vm['resourcePool']['value']}").stdout
        stack.kubectl("delete", "ecs", "pinned", namespace=namespace)
    finally:
        stack.kubectl("delete", "az", closed, "--ignore-not-found")
