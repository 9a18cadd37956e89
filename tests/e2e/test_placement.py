"""Placement on both backends: the scheduler's zone choice (with its Event), regions, live moves between hosts
and storage, moves refused and retried, pins outside the zone, and a set spreading over the zones. Every result
is read back with govc, or the SCVMM simulator's state and plain pywinrm."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from e2e_world import (
    Backend,
    apply,
    condition_is,
    conditions,
    patch_spec,
    wait_for,
    wait_ready,
)

from herder_dev.stack import StackState


def events_of(stack: StackState, namespace: str, name: str, reason: str) -> list[dict[str, object]]:
    items = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


def set_status(stack: StackState, namespace: str, name: str, replicas: int) -> dict[str, Any] | None:
    body = json.loads(stack.kubectl("get", "ecsset", name, "-o", "json", namespace=namespace).stdout)
    status: dict[str, Any] = body.get("status") or {}
    return status if status.get("readyReplicas") == replicas and status.get("replicas") == replicas else None


def test_an_ecs_without_a_zone_is_placed_by_the_scheduler(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("anywhere", availabilityZone=None), namespace=namespace)
    status = wait_ready(stack, namespace, "anywhere", timeout=90)
    zone = status["zone"]
    assert zone in backend.zones, zone  # a zone of the image's backend
    events = wait_for(lambda: events_of(stack, namespace, "anywhere", "ZoneChosen"), timeout=30,
                      what="the ZoneChosen Event")
    message = str(events[0]["message"])
    assert f"zone {zone} chosen" in message
    for other in backend.zones:
        assert other in message, f"the Event does not say it considered {other}: {message}"
    vm = backend.vm(namespace, "anywhere")
    assert vm is not None and backend.in_zone(vm, zone)
    # The choice stays: a restart of the pass (any change) keeps the zone.
    patch_spec(stack, namespace, "anywhere", {"cpu": 2})
    stack.kubectl("annotate", "ecs", "anywhere", "e2e/touch=1", namespace=namespace)
    assert wait_ready(stack, namespace, "anywhere")["zone"] == zone
    assert len(events_of(stack, namespace, "anywhere", "ZoneChosen")) == 1


def test_a_region_limits_the_scheduler_to_its_zones(stack: StackState, backend: Backend, namespace: str) -> None:
    far = f"{backend.kind}-far-{namespace[-6:]}"
    apply(stack, backend.zone_manifest(far, "region-9"))
    try:
        wait_for(lambda: condition_is(stack, "az", far, None, "Ready", "True"), timeout=30, what=f"zone {far} Ready")
        apply(stack, backend.manifest("there", availabilityZone=None, region="region-9", memory="512Mi"),
              backend.manifest("home", availabilityZone=None, region=backend.region, memory="512Mi"),
              backend.manifest("misplaced", availabilityZone=far, region=backend.region, memory="512Mi"),
              namespace=namespace)
        assert wait_ready(stack, namespace, "there", timeout=90)["zone"] == far
        assert wait_ready(stack, namespace, "home", timeout=90)["zone"] in backend.zones
        status = wait_for(lambda: condition_is(stack, "ecs", "misplaced", namespace, "Provisioned", "False",
                                               "ZoneNotInRegion"), timeout=30, what="ZoneNotInRegion")
        assert f"in region region-9, not in spec.region {backend.region}" in conditions(status)["Provisioned"][
            "message"]
        assert backend.vm(namespace, "misplaced") is None
        chosen = str(events_of(stack, namespace, "home", "ZoneChosen")[0]["message"])
        assert f"{far}: in region region-9, not {backend.region}" in chosen

        # A set in the region spreads over its zones only.
        template = backend.manifest("unused", availabilityZone=None, region=backend.region, memory="512Mi")["spec"]
        apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet",
                      "metadata": {"name": "regional"},
                      "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "regional"}},
                               "template": {"metadata": {"labels": {"app": "regional"}}, "spec": template}}},
              namespace=namespace)
        wait_for(lambda: set_status(stack, namespace, "regional", 4), timeout=150, what="4 ready replicas")
        servers = json.loads(stack.kubectl("get", "ecs", "-l", "app=regional", "-o", "json",
                                           namespace=namespace).stdout)["items"]
        assert Counter(s["spec"]["availabilityZone"] for s in servers) == Counter(dict.fromkeys(backend.zones, 2))

        # `kubectl get az`, sorted by region, groups the zones by region.
        table = stack.kubectl("get", "az", "--sort-by=.spec.region").stdout.splitlines()
        assert table[0].split()[:2] == ["NAME", "REGION"]
        regions = [line.split()[1] for line in table[1:]]
        assert regions == sorted(regions) and regions[-1] == "region-9", table
    finally:  # the servers go before their zone, so that their VMs are deleted with them
        stack.kubectl("delete", "ecsset", "regional", "--ignore-not-found", "--timeout=90s", namespace=namespace,
                      check=False)
        stack.kubectl("delete", "ecs", "--all", "--timeout=90s", namespace=namespace, check=False)
        stack.kubectl("delete", "az", far, "--ignore-not-found")


def test_changing_the_host_and_storage_moves_the_running_vm(stack: StackState, backend: Backend,
                                                            namespace: str) -> None:
    apply(stack, backend.manifest("mover"), namespace=namespace)
    status = wait_ready(stack, namespace, "mover", timeout=90)
    vm = backend.vm(namespace, "mover")
    assert vm is not None and status["host"] == vm["host"]
    target = next(h for h in backend.hosts() if h != vm["host"])

    patch_spec(stack, namespace, "mover", {"placement": {"host": target}})
    wait_for(lambda: (backend.vm(namespace, "mover") or {}).get("host") == target, timeout=60,
             what=f"{backend}: the VM on {target}")
    assert (backend.vm(namespace, "mover") or {}).get("power") == "On"
    # A move shorter than a status write's quiet period is never shown as Migrating: wait for the status after it.
    status = wait_for(lambda: (s := condition_is(stack, "ecs", "mover", namespace, "PlacementSynced", "True"))
                      and s.get("host") == target and s, timeout=30, what="PlacementSynced=True on the new host")
    assert status["powerState"] == "On"
    assert wait_ready(stack, namespace, "mover")["host"] == target

    # Storage (vCenter: Storage vMotion to another datastore; SCVMM: storage migration), still running.
    pinned = {"host": target, backend.storage_field: backend.storage_target}
    patch_spec(stack, namespace, "mover", {"placement": pinned})
    wait_for(lambda: (backend.vm(namespace, "mover") or {}).get("storage") == backend.storage_target, timeout=60,
             what=f"{backend}: the VM's files on {backend.storage_target}")
    moved = backend.vm(namespace, "mover")
    assert moved is not None and (moved["power"], moved["host"]) == ("On", target)
    status = wait_for(lambda: (s := condition_is(stack, "ecs", "mover", namespace, "PlacementSynced", "True"))
                      and s.get("datastore") == backend.storage_target and s, timeout=30,
                      what="PlacementSynced=True on the new storage")
    assert status["host"] == target


def test_a_pin_that_does_not_exist_or_is_outside_the_zone_is_refused(stack: StackState, backend: Backend,
                                                                     namespace: str) -> None:
    apply(stack, backend.manifest("stuck"), namespace=namespace)
    wait_ready(stack, namespace, "stuck", timeout=90)
    before = backend.vm(namespace, "stuck")
    assert before is not None
    # Checked against the zone's hosts before anything is asked: a host that does not exist is not one of them.
    for host in ("no-such-host", backend.hosts(backend.zone_b)[0]):  # ... nor is a real host of the other zone
        patch_spec(stack, namespace, "stuck", {"placement": {"host": host}})
        status = wait_for(lambda h=host: (s := condition_is(stack, "ecs", "stuck", namespace, "PlacementSynced",
                                                            "False", "PlacementNotInZone"))
                          and h in conditions(s)["PlacementSynced"]["message"] and s, timeout=30,
                          what=f"PlacementNotInZone for {host}")
        message = conditions(status)["PlacementSynced"]["message"]
        assert f"is not a host of zone {backend.zone}" in message and before["host"] in message, message
    after = backend.vm(namespace, "stuck")
    assert after is not None and (after["host"], after["power"]) == (before["host"], "On")


def test_a_move_the_backend_refuses_is_reported_then_retried_on_its_own(stack: StackState, backend: Backend,
                                                                        namespace: str) -> None:
    apply(stack, backend.manifest("returner"), namespace=namespace)
    wait_ready(stack, namespace, "returner", timeout=90)
    vm = backend.vm(namespace, "returner")
    assert vm is not None
    before = vm["host"]
    target = next(h for h in backend.hosts() if h != before)
    backend.refuse_moves_to(target, refused=True)
    try:
        patch_spec(stack, namespace, "returner", {"placement": {"host": target}})
        status = wait_for(lambda: condition_is(stack, "ecs", "returner", namespace, "PlacementSynced", "False",
                                               "MigrationFailed"), timeout=45, what="MigrationFailed")
        message = conditions(status)["PlacementSynced"]["message"]
        for words in backend.refused_move_words:  # the backend's own words, passed on
            assert words in message, message
        now = backend.vm(namespace, "returner")
        assert now is not None and (now["host"], now["power"]) == (before, "On")
    finally:
        backend.refuse_moves_to(target, refused=False)

    # Nobody touches the ECS: the held move is tried again when its backoff runs out.
    wait_for(lambda: (backend.vm(namespace, "returner") or {}).get("host") == target, timeout=90,
             what=f"{backend}: the VM on {target} once the host takes VMs again")
    status = wait_for(lambda: (s := condition_is(stack, "ecs", "returner", namespace, "PlacementSynced", "True"))
                      and s.get("host") == target and s, timeout=30, what="PlacementSynced=True on the new host")
    assert status["powerState"] == "On"


def test_an_ecs_set_spreads_its_servers_over_the_zones(stack: StackState, backend: Backend, namespace: str) -> None:
    # Small servers: the spread is under test, not the capacity filter (vcsim's clusters have 8 GiB each).
    template = backend.manifest("unused", availabilityZone=None, memory="512Mi")["spec"]
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "web"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": template}}},
          namespace=namespace)
    status = wait_for(lambda: set_status(stack, namespace, "web", 4), timeout=150, what="4 ready replicas")
    assert status["selector"] == "app=web"
    servers = json.loads(stack.kubectl("get", "ecs", "-l", "app=web", "-o", "json", namespace=namespace).stdout)
    counts = Counter(s["spec"]["availabilityZone"] for s in servers["items"])
    # Round-robin over the backend's zones (the image's backend): both used, evenly.
    assert counts == Counter(dict.fromkeys(backend.zones, 2)), counts
    for item in servers["items"]:
        assert item["metadata"]["ownerReferences"][0]["name"] == "web"
        vm = backend.vm(namespace, item["metadata"]["name"])
        assert vm is not None and vm["power"] == "On"
        assert backend.in_zone(vm, item["spec"]["availabilityZone"])

    stack.kubectl("scale", "ecsset", "web", "--replicas=1", namespace=namespace)
    wait_for(lambda: len(json.loads(stack.kubectl("get", "ecs", "-l", "app=web", "-o", "json",
                                                  namespace=namespace).stdout)["items"]) == 1,
             timeout=90, what="scaled down to one server")
    wait_for(lambda: backend.names(namespace) == [f"{namespace}.web-0"], timeout=60,
             what=f"{backend}: only web-0 is left")
    stack.kubectl("delete", "ecsset", "web", namespace=namespace)
    wait_for(lambda: not backend.names(namespace), timeout=60, what=f"{backend}: the set's VMs are gone")
