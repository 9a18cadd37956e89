"""Placement against vcsim: the scheduler's zone choice (with its Event) and live moves between hosts and
datastores. Every result is read back with govc."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from e2e_world import (
    ZONES,
    Govc,
    apply,
    condition_is,
    ecs_manifest,
    patch_spec,
    power_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


def host_of(govc: Govc, vm: dict[str, object]) -> str:
    ref = vm["runtime"]["host"]  # type: ignore[index]
    return Path(govc("ls", "-L", f"HostSystem:{ref['value']}").stdout.strip()).name  # type: ignore[index]


def events_of(stack: StackState, namespace: str, name: str, reason: str) -> list[dict[str, object]]:
    items = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_an_ecs_without_a_zone_is_placed_by_the_scheduler(stack: StackState, operator: OperatorProcess,
                                                          govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("anywhere", availabilityZone=None), namespace=namespace)
    status = wait_ready(stack, namespace, "anywhere")
    zone = status["zone"]
    assert zone in ZONES, zone  # a vCenter zone: the image is on the vCenter, not on SCVMM
    events = wait_for(lambda: events_of(stack, namespace, "anywhere", "ZoneChosen"), timeout=30,
                      what="the ZoneChosen Event")
    message = str(events[0]["message"])
    assert f"zone {zone} chosen" in message
    for other in ZONES:
        assert other in message, f"the Event does not say it considered {other}: {message}"
    vm = govc.vm(f"{namespace}.anywhere")
    assert vm is not None
    pool = govc("ls", "-L", f"ResourcePool:{vm['resourcePool']['value']}").stdout
    assert ZONES[zone] in pool
    # The choice stays: a restart of the pass (any change) keeps the zone.
    patch_spec(stack, namespace, "anywhere", {"cpu": 2})
    stack.kubectl("annotate", "ecs", "anywhere", "e2e/touch=1", namespace=namespace)
    assert wait_ready(stack, namespace, "anywhere")["zone"] == zone
    assert len(events_of(stack, namespace, "anywhere", "ZoneChosen")) == 1


def test_changing_the_host_and_datastore_moves_the_running_vm(stack: StackState, operator: OperatorProcess,
                                                              govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("mover"), namespace=namespace)
    status = wait_ready(stack, namespace, "mover")
    vm = govc.vm(f"{namespace}.mover")
    assert vm is not None
    before = host_of(govc, vm)
    assert status["host"] == before
    hosts = sorted(Path(p).name for p in govc("find", "/DC0/host/DC0_C0", "-type", "h").stdout.split())
    target = next(h for h in hosts if h != before)

    patch_spec(stack, namespace, "mover", {"placement": {"host": target}})

    def moved() -> bool:
        now = govc.vm(f"{namespace}.mover")
        return now is not None and host_of(govc, now) == target

    wait_for(moved, timeout=45, what=f"govc: the VM on {target}")
    assert power_of(govc.vm(f"{namespace}.mover")) == "poweredOn"
    status = wait_for(lambda: condition_is(stack, "ecs", "mover", namespace, "PlacementSynced", "True"),
                      timeout=30, what="PlacementSynced=True")
    assert status["host"] == target and status["powerState"] == "On"
    assert wait_ready(stack, namespace, "mover")["host"] == target

    # Storage vMotion: the other datastore, still running.
    patch_spec(stack, namespace, "mover", {"placement": {"host": target, "datastore": "LocalDS_1"}})

    def on_ds1() -> bool:
        now = govc.vm(f"{namespace}.mover")
        return now is not None and any(d["value"] for d in now["datastore"]) and \
            "LocalDS_1" in govc("ls", "-L", f"Datastore:{now['datastore'][0]['value']}").stdout

    wait_for(on_ds1, timeout=45, what="govc: the VM on LocalDS_1")
    assert power_of(govc.vm(f"{namespace}.mover")) == "poweredOn"
    status = wait_for(lambda: condition_is(stack, "ecs", "mover", namespace, "PlacementSynced", "True"),
                      timeout=30, what="PlacementSynced=True on the new datastore")
    assert status["datastore"] == "LocalDS_1" and status["host"] == target


def test_a_refused_move_is_reported_with_vcenters_message(stack: StackState, operator: OperatorProcess,
                                                          govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("stuck"), namespace=namespace)
    wait_ready(stack, namespace, "stuck")
    patch_spec(stack, namespace, "stuck", {"placement": {"host": "no-such-host"}})
    status = wait_for(lambda: condition_is(stack, "ecs", "stuck", namespace, "ConfigSynced", "False", "NotFound"),
                      timeout=30, what="ConfigSynced=False NotFound for a host that does not exist")
    message = next(c["message"] for c in status["conditions"] if c["type"] == "ConfigSynced")
    assert "no-such-host" in message
    assert power_of(govc.vm(f"{namespace}.stuck")) == "poweredOn"


def test_a_move_refused_by_vcenter_is_reported_then_retried_on_its_own(stack: StackState,
                                                                       operator: OperatorProcess, govc: Govc,
                                                                       namespace: str) -> None:
    apply(stack, ecs_manifest("returner"), namespace=namespace)
    wait_ready(stack, namespace, "returner")
    vm = govc.vm(f"{namespace}.returner")
    assert vm is not None
    before = host_of(govc, vm)
    target = next(Path(h).name for h in govc("find", "/DC0/host/DC0_C0", "-type", "h").stdout.split()
                  if Path(h).name != before)
    govc("host.maintenance.enter", f"/DC0/host/DC0_C0/{target}")
    try:
        patch_spec(stack, namespace, "returner", {"placement": {"host": target}})
        status = wait_for(lambda: condition_is(stack, "ecs", "returner", namespace, "PlacementSynced", "False",
                                               "MigrationFailed"), timeout=30, what="MigrationFailed")
        message = next(c["message"] for c in status["conditions"] if c["type"] == "PlacementSynced")
        assert "InvalidHostState" in message, message  # vCenter's own fault, passed on
        now = govc.vm(f"{namespace}.returner")
        assert now is not None and host_of(govc, now) == before and power_of(now) == "poweredOn"
    finally:
        govc("host.maintenance.exit", f"/DC0/host/DC0_C0/{target}")

    # Nobody touches the ECS: the held move is tried again when its backoff runs out.
    def moved() -> bool:
        now = govc.vm(f"{namespace}.returner")
        return now is not None and host_of(govc, now) == target

    wait_for(moved, timeout=90, what=f"govc: the VM on {target} after the host left maintenance")
    status = wait_for(lambda: condition_is(stack, "ecs", "returner", namespace, "PlacementSynced", "True"),
                      timeout=30, what="PlacementSynced=True")
    assert status["host"] == target and status["powerState"] == "On"


def test_an_ecs_set_spreads_its_servers_over_the_zones(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                       namespace: str) -> None:
    # Small servers: the spread is under test, not the capacity filter (vcsim's clusters have 8 GiB each).
    template = ecs_manifest("unused", availabilityZone=None, memory="512Mi")["spec"]
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "web"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": template}}},
          namespace=namespace)

    def ready_set() -> dict[str, object] | None:
        body = json.loads(stack.kubectl("get", "ecsset", "web", "-o", "json", namespace=namespace).stdout)
        status = body.get("status") or {}
        return status if status.get("readyReplicas") == 4 and status.get("replicas") == 4 else None

    status = wait_for(ready_set, timeout=120, what="4 ready replicas")
    assert status["selector"] == "app=web"
    servers = json.loads(stack.kubectl("get", "ecs", "-l", "app=web", "-o", "json", namespace=namespace).stdout)
    counts = Counter(s["spec"]["availabilityZone"] for s in servers["items"])
    # Round-robin over the eligible zones: both vCenter zones used, evenly.
    assert set(ZONES) <= set(counts) and max(counts.values()) - min(counts.values()) <= 1, counts
    for item in servers["items"]:
        assert item["metadata"]["ownerReferences"][0]["name"] == "web"
        vm = govc.vm(f"{namespace}.{item['metadata']['name']}")
        assert vm is not None and power_of(vm) == "poweredOn"

    stack.kubectl("scale", "ecsset", "web", "--replicas=1", namespace=namespace)
    wait_for(lambda: len(json.loads(stack.kubectl("get", "ecs", "-l", "app=web", "-o", "json",
                                                  namespace=namespace).stdout)["items"]) == 1,
             timeout=90, what="scaled down to one server")
    wait_for(lambda: govc.vms(f"{namespace}.web-") == [f"{namespace}.web-0"], timeout=60,
             what="govc: only web-0 is left")
    stack.kubectl("delete", "ecsset", "web", namespace=namespace)
    wait_for(lambda: not govc.vms(f"{namespace}.web-"), timeout=60, what="govc: the set's VMs are gone")
