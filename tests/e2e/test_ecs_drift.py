"""Changes made behind herder's back, on both backends (govc; plain pywinrm on the SCVMM simulator): corrected,
held while paused, never silently re-created; VMs made outside herder adopted by their backend ID. (A power-off
behind herder's back is in test_ecs_backends.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from e2e_world import (
    Backend,
    annotate,
    apply,
    condition_is,
    conditions,
    status_of,
    stays,
    uid_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


def test_paused_server_is_left_alone_until_resumed(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("web"), namespace=namespace)
    wait_ready(stack, namespace, "web", timeout=90)
    annotate(stack, namespace, "web", paused="true")
    status = wait_for(lambda: condition_is(stack, "ecs", "web", namespace, "Paused", "True", "Paused"),
                      timeout=15, what="Paused=True")
    assert "herder.dev/paused" in conditions(status)["Paused"]["message"]

    backend.power_off_out_of_band(namespace, "web")
    # herder notices the drift (status shows the VM off, PowerSynced False) but does not act on it.
    status = wait_for(lambda: (s := status_of(stack, "ecs", "web", namespace)).get("powerState") == "Off" and s,
                      timeout=backend.drift_bound, what="status: powerState Off observed")
    assert conditions(status)["PowerSynced"]["status"] == "False"
    assert conditions(status)["Paused"]["status"] == "True"
    stays(lambda: (backend.vm(namespace, "web") or {}).get("power") == "Off", 6,
          what=f"{backend}: VM stays off while paused")

    annotate(stack, namespace, "web", paused=None)
    started = time.monotonic()
    wait_for(lambda: (backend.vm(namespace, "web") or {}).get("power") == "On", timeout=backend.drift_bound,
             what=f"{backend}: VM on after resume")
    assert time.monotonic() - started < backend.drift_bound
    status = wait_ready(stack, namespace, "web", timeout=20)
    assert conditions(status)["Paused"]["status"] == "False"


def test_cpu_and_memory_changed_behind_herders_back_are_restored(stack: StackState, backend: Backend,
                                                                 operator: OperatorProcess, namespace: str) -> None:
    apply(stack, backend.manifest("sized", powerCyclePolicy="Automatic"), namespace=namespace)
    wait_ready(stack, namespace, "sized", timeout=90)
    before = backend.vm(namespace, "sized")
    assert before is not None and (before["cpu"], before["memory_mib"]) == (2, 2048)
    mark = len(operator.log())
    backend.resize_out_of_band(namespace, "sized", cpu=4, memory_mib=4096)

    def restored() -> bool:
        vm = backend.vm(namespace, "sized")
        # herder's log proves the round trip: it may undo the change before anyone else could look.
        return vm is not None and (vm["cpu"], vm["memory_mib"], vm["power"]) == (2, 2048, "On") and \
            f"ECS {namespace}/sized: Reconfigure VMChange(cpu=2, memory_mib=2048" in operator.log()[mark:]

    # Seen at the next drift read; a shrink needs a power cycle, which the Automatic policy allows.
    wait_for(restored, timeout=backend.drift_bound + 30, interval=0.5,
             what=f"{backend}: 2 vCPUs, 2048 MiB, running again")
    status = wait_ready(stack, namespace, "sized", timeout=30)
    assert (status["cpu"], status["memory"], status["powerState"]) == (2, "2Gi", "On")
    assert backend.vm(namespace, "sized")["id"] == before["id"]  # type: ignore[index]  # the same VM, corrected


def test_vanished_vm_is_reported_not_recreated_until_asked(stack: StackState, backend: Backend,
                                                           namespace: str) -> None:
    apply(stack, backend.manifest("web"), namespace=namespace)
    first = wait_ready(stack, namespace, "web", timeout=90)
    backend.destroy_out_of_band(namespace, "web")

    status = wait_for(lambda: condition_is(stack, "ecs", "web", namespace, "Provisioned", "False", "VMMissing"),
                      timeout=backend.drift_bound + 10, what="Provisioned=False VMMissing")
    ready = conditions(status)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "VMMissing"
    assert "herder.dev/recreate" in ready["message"]
    assert status["phase"] == "Lost"
    stays(lambda: backend.names(namespace) == [], 6, what=f"{backend}: no VM re-created on its own")
    assert condition_is(stack, "ecs", "web", namespace, "Provisioned", "False", "VMMissing")

    annotate(stack, namespace, "web", recreate="true")
    wait_for(lambda: backend.names(namespace) == [f"{namespace}.web"], timeout=45, what=f"{backend}: a new VM")
    status = wait_ready(stack, namespace, "web", timeout=60)
    vm = backend.vm(namespace, "web")
    assert vm is not None and (vm["power"], vm["cpu"], vm["memory_mib"]) == ("On", 2, 2048)
    assert vm["identity"] == uid_of(stack, namespace, "web")
    assert status["uniqueID"] == vm["id"]
    # A new VM (SCVMM: a new VM ID; vCenter: the same instance UUID, the ECS's, on a new managed object).
    assert (status["uniqueID"], status["managedObjectID"]) != (first["uniqueID"], first["managedObjectID"])


@pytest.fixture
def opened_zone(stack: StackState, namespace: str, backend: Backend) -> Iterator[str]:
    """A zone of this test's own on the backend's first placement, open to adoption for this namespace only, from
    the whole VM folder (vCenter) or the Zone-A host group (SCVMM). Adoption is closed unless a zone opens it: see
    test_adoption.py."""
    zone = f"open-{namespace}"[:63]
    only_here = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}  # set by the API server
    source = {"hostGroups": ["All Hosts\\Zone-A"]} if backend.scvmm else {"folders": ["vm"]}
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
                  "spec": backend.zone_spec() | {"allowedNamespaces": only_here,
                                                 "adoption": {"allowedNamespaces": only_here, **source}}})
    try:
        yield zone
    finally:
        stack.kubectl("delete", "az", zone, "--wait=false", check=False)


def test_adopt_an_existing_vm(stack: StackState, backend: Backend, namespace: str, opened_zone: str) -> None:
    source = f"adopt-{namespace}"
    unique_id = backend.make_vm(source, "Zone-A" if backend.scvmm else "")
    before_all = backend.all_names()

    # Same size as the template: adoption alone, no reconfiguration.
    cpu, memory = backend.template_size
    apply(stack, backend.manifest("adopted", cpu=cpu, memory=f"{memory}Mi", image=None, availabilityZone=opened_zone,
                                  adoptFrom={"uniqueID": unique_id}), namespace=namespace)
    status = wait_ready(stack, namespace, "adopted", timeout=60)
    uid = uid_of(stack, namespace, "adopted")
    assert status["uniqueID"] == unique_id
    vm = backend.vm_named(source)
    assert vm is not None and vm["id"] == unique_id
    assert vm["owner"] == uid  # herder's mark: the custom field (vCenter) or custom property (SCVMM)
    assert backend.names(namespace) == []  # no VM of its own
    assert backend.all_names() == before_all
    assert (vm["power"], vm["cpu"], vm["memory_mib"]) == ("On", cpu, memory)

    # Adopted means managed: drift on it is corrected like on any other server.
    backend.power_off_named(source)
    wait_for(lambda: (backend.vm_named(source) or {}).get("power") == "On", timeout=backend.drift_bound,
             what=f"{backend}: adopted VM on again")
    stack.kubectl("delete", "ecs", "adopted", "--wait=false", namespace=namespace)
    wait_for(lambda: backend.vm_named(source) is None, timeout=45, what=f"{backend}: adopted VM deleted with its ECS")


def test_adopt_with_an_image_and_a_missing_target(stack: StackState, backend: Backend, namespace: str,
                                                  opened_zone: str) -> None:
    missing = "4211e7d5-0000-4000-8000-000000000000"
    apply(stack, backend.manifest("nothing", availabilityZone=opened_zone, adoptFrom={"uniqueID": missing}),
          namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ecs", "nothing", namespace, "Provisioned", "False",
                                           "AdoptTargetNotFound"), timeout=20, what="AdoptTargetNotFound")
    assert missing in conditions(status)["Provisioned"]["message"]
    stays(lambda: backend.names(namespace) == [], 3, what=f"{backend}: nothing made instead")
    events = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    assert any(e.get("reason") == "AdoptTargetNotFound" for e in events)
