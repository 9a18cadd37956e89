"""Changes made behind herder's back (with govc): corrected, held while paused, never silently re-created."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from e2e_world import (
    Govc,
    annotate,
    apply,
    condition_is,
    conditions,
    ecs_manifest,
    hardware,
    owner_field_value,
    power_of,
    status_of,
    stays,
    uid_of,
    vcenter_zone_spec,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

CORRECTION_BOUND_SECONDS = 15.0


def test_power_off_behind_herders_back_is_corrected_quickly(stack: StackState, operator: OperatorProcess,
                                                            govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("web"), namespace=namespace)
    wait_ready(stack, namespace, "web")
    vm_name = f"{namespace}.web"
    mark = len(operator.log())
    govc("vm.power", "-off", vm_name)
    started = time.monotonic()
    # herder may power it back on before govc could even look; its log proves the round trip.
    wait_for(lambda: f"ECS {namespace}/web: Power On" in operator.log()[mark:]
             and power_of(govc.vm(vm_name)) == "poweredOn",
             timeout=CORRECTION_BOUND_SECONDS, interval=0.2, what="herder powered the VM on again (govc agrees)")
    elapsed = time.monotonic() - started
    assert elapsed < CORRECTION_BOUND_SECONDS, elapsed
    status = wait_ready(stack, namespace, "web", timeout=10)
    assert status["powerState"] == "On"


def test_paused_server_is_left_alone_until_resumed(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                   namespace: str) -> None:
    apply(stack, ecs_manifest("web"), namespace=namespace)
    wait_ready(stack, namespace, "web")
    annotate(stack, namespace, "web", paused="true")
    status = wait_for(lambda: condition_is(stack, "ecs", "web", namespace, "Paused", "True", "Paused"),
                      timeout=15, what="Paused=True")
    assert "herder.dev/paused" in conditions(status)["Paused"]["message"]

    vm_name = f"{namespace}.web"
    govc("vm.power", "-off", vm_name)
    # herder notices the drift (status shows the VM off, PowerSynced False) but does not act on it.
    status = wait_for(lambda: (s := status_of(stack, "ecs", "web", namespace)).get("powerState") == "Off" and s,
                      timeout=15, what="status: powerState Off observed")
    assert conditions(status)["PowerSynced"]["status"] == "False"
    assert conditions(status)["Paused"]["status"] == "True"
    stays(lambda: power_of(govc.vm(vm_name)) == "poweredOff", 6, what="govc: VM stays off while paused")

    annotate(stack, namespace, "web", paused=None)
    started = time.monotonic()
    wait_for(lambda: power_of(govc.vm(vm_name)) == "poweredOn", timeout=CORRECTION_BOUND_SECONDS,
             what="govc: VM on after resume")
    assert time.monotonic() - started < CORRECTION_BOUND_SECONDS
    status = wait_ready(stack, namespace, "web", timeout=10)
    assert conditions(status)["Paused"]["status"] == "False"


def test_vanished_vm_is_reported_not_recreated_until_asked(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                           namespace: str) -> None:
    apply(stack, ecs_manifest("web"), namespace=namespace)
    first = wait_ready(stack, namespace, "web")
    vm_name = f"{namespace}.web"
    govc("vm.destroy", vm_name)

    status = wait_for(lambda: condition_is(stack, "ecs", "web", namespace, "Provisioned", "False", "VMMissing"),
                      timeout=20, what="Provisioned=False VMMissing")
    ready = conditions(status)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "VMMissing"
    assert "herder.dev/recreate" in ready["message"]
    assert status["phase"] == "Lost"
    stays(lambda: govc.vms(f"{namespace}.") == [], 6, what="govc: no VM re-created on its own")
    assert condition_is(stack, "ecs", "web", namespace, "Provisioned", "False", "VMMissing")

    annotate(stack, namespace, "web", recreate="true")
    wait_for(lambda: govc.vms(f"{namespace}.") == [vm_name], timeout=30, what="govc: a new VM")
    status = wait_ready(stack, namespace, "web", timeout=30)
    vm = govc.vm(vm_name)
    assert vm is not None and power_of(vm) == "poweredOn" and hardware(vm)[:2] == (2, 2048)
    assert vm["config"]["instanceUuid"] == uid_of(stack, namespace, "web") == status["uniqueID"]
    assert status["managedObjectID"] == vm["self"]["value"] != first["managedObjectID"]


@pytest.fixture
def opened_zone(stack: StackState, namespace: str) -> Iterator[str]:
    """A zone on DC0_C0 of this test's own, open to adoption from the whole VM folder for this namespace only
    (adoption is closed unless a zone opens it: see test_adoption.py)."""
    zone = f"open-{namespace}"[:63]
    only_here = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}  # set by the API server
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
                  "spec": vcenter_zone_spec("DC0_C0") | {"allowedNamespaces": only_here,
                                                          "adoption": {"allowedNamespaces": only_here,
                                                                       "folders": ["vm"]}}})
    try:
        yield zone
    finally:
        stack.kubectl("delete", "az", zone, "--wait=false", check=False)


def test_adopt_an_existing_vm(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str,
                              opened_zone: str) -> None:
    source = f"adopt-{namespace}"
    govc("vm.clone", "-vm", "ubuntu-22.04-tmpl", "-on=true", "-folder", "vm", "-ds", "LocalDS_0",
         "-pool", "/DC0/host/DC0_C0/Resources", source)
    made = govc.vm(source)
    assert made is not None
    instance_uuid = made["config"]["instanceUuid"]
    before_all = govc("find", "/DC0/vm", "-type", "m").stdout.split()

    # Same size as the template (1 vCPU, 1 GiB): adoption alone, no reconfiguration.
    apply(stack, ecs_manifest("adopted", cpu=1, memory="1Gi", image=None, availabilityZone=opened_zone,
                              adoptFrom={"uniqueID": instance_uuid}), namespace=namespace)
    status = wait_ready(stack, namespace, "adopted", timeout=30)
    uid = uid_of(stack, namespace, "adopted")
    assert status["uniqueID"] == instance_uuid
    assert status["managedObjectID"] == made["self"]["value"]
    assert owner_field_value(govc, f"/DC0/vm/{source}") == uid
    assert govc.vms(f"{namespace}.") == []  # no VM of its own
    assert sorted(govc("find", "/DC0/vm", "-type", "m").stdout.split()) == sorted(before_all)
    vm = govc.vm(source)
    assert vm is not None and power_of(vm) == "poweredOn" and hardware(vm)[:2] == (1, 1024)

    # Adopted means managed: drift on it is corrected like on any other server.
    govc("vm.power", "-off", source)
    wait_for(lambda: power_of(govc.vm(source)) == "poweredOn", timeout=15, what="govc: adopted VM on again")
    stack.kubectl("delete", "ecs", "adopted", "--wait=false", namespace=namespace)
    wait_for(lambda: govc.vm(source) is None, timeout=30, what="govc: adopted VM deleted with its ECS")


def test_adopt_with_an_image_and_a_missing_target(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                  namespace: str, opened_zone: str) -> None:
    missing = "4211e7d5-0000-4000-8000-000000000000"
    apply(stack, ecs_manifest("nothing", availabilityZone=opened_zone, adoptFrom={"uniqueID": missing}),
          namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "nothing", namespace, "Provisioned", "False",
                                           "AdoptTargetNotFound"), timeout=20, what="AdoptTargetNotFound")
    assert missing in conditions(status)["Provisioned"]["message"]
    stays(lambda: govc.vms(f"{namespace}.") == [], 3, what="govc: nothing cloned instead")
    events = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    assert any(e.get("reason") == "AdoptTargetNotFound" for e in events)
