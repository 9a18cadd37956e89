"""The ECS lifecycle against vcsim: create, resize, disks, power, delete. Every result is read back with govc."""

from __future__ import annotations

from e2e_world import (
    GIB,
    Govc,
    apply,
    condition_is,
    conditions,
    ecs_manifest,
    get,
    hardware,
    owner_field_value,
    patch_spec,
    power_of,
    status_of,
    stays,
    uid_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

TEMPLATE_DISK = 10 * GIB  # the seeded template's OS disk


def test_create_builds_the_declared_vm_and_reports_it(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                      namespace: str) -> None:
    apply(stack, ecs_manifest("web", cpu=3, memory="3Gi", powerState="On",
                              disks={"os": {"size": "20Gi"},
                                     "data": [{"name": "logs", "size": "5Gi"}, {"name": "db", "size": "3Gi"}]}),
          namespace=namespace)
    status = wait_ready(stack, namespace, "web")

    vm = govc.vm(f"{namespace}.web")
    assert vm is not None, "govc does not see the VM"
    assert hardware(vm) == (3, 3072, [3 * GIB, 5 * GIB, 20 * GIB])
    assert power_of(vm) == "poweredOn"
    body = get(stack, "ecs", "web", namespace)
    assert body is not None
    assert vm["config"]["instanceUuid"] == body["metadata"]["uid"] == status["uniqueID"]
    assert status["managedObjectID"] == vm["self"]["value"]
    host_ref = vm["runtime"]["host"]["value"]
    assert status["host"] == govc("object.collect", "-s", f"HostSystem:{host_ref}", "name").stdout.strip()
    assert status["powerState"] == "On"
    assert status["zone"] == "dc0-c0"
    assert status["phase"] == "Running"
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert "pendingTask" not in status
    conds = conditions(status)
    for type_ in ("Ready", "Provisioned", "ConfigSynced", "PowerSynced"):
        assert conds[type_]["status"] == "True", conds[type_]
        assert conds[type_]["observedGeneration"] == body["metadata"]["generation"]
    assert conds["Paused"]["status"] == "False"
    # The VM sits in the zone's cluster (DC0_C0), not the other one.
    pool = govc("ls", "-i=false", "-L", vm["resourcePool"]["type"] + ":" + vm["resourcePool"]["value"]).stdout
    assert "DC0_C0" in pool and "DC0_C1" not in pool


def test_resize_with_automatic_power_cycle(stack: StackState, operator: OperatorProcess, govc: Govc,
                                           namespace: str) -> None:
    apply(stack, ecs_manifest("app", powerCyclePolicy="Automatic"), namespace=namespace)
    wait_ready(stack, namespace, "app")
    patch_spec(stack, namespace, "app", {"cpu": 4, "memory": "4Gi"})

    def resized() -> bool:
        vm = govc.vm(f"{namespace}.app")
        return vm is not None and hardware(vm)[:2] == (4, 4096) and power_of(vm) == "poweredOn"

    wait_for(resized, timeout=45, what="govc: 4 vCPUs, 4096 MiB, powered on again")
    status = wait_ready(stack, namespace, "app")
    assert status["cpu"] == 4 and status["memory"] == "4Gi" and status["powerState"] == "On"
    assert status["observedGeneration"] == 2


def test_resize_with_manual_policy_waits_for_the_user(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                      namespace: str) -> None:
    apply(stack, ecs_manifest("app"), namespace=namespace)  # powerCyclePolicy defaults to Manual
    wait_ready(stack, namespace, "app")
    patch_spec(stack, namespace, "app", {"cpu": 4, "memory": "3Gi"})

    status = wait_for(lambda: condition_is(stack, "ecs", "app", namespace, "ConfigSynced", "False",
                                           "PowerCycleRequired"), timeout=30, what="PowerCycleRequired")
    ready = conditions(status)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "PowerCycleRequired"
    assert "powerCyclePolicy" in conditions(status)["ConfigSynced"]["message"]  # tells the user what to do

    def untouched() -> bool:
        vm = govc.vm(f"{namespace}.app")
        return vm is not None and hardware(vm)[:2] == (2, 2048) and power_of(vm) == "poweredOn"

    stays(untouched, 4, what="govc: VM untouched (2 vCPUs, 2048 MiB, on)")
    assert condition_is(stack, "ecs", "app", namespace, "ConfigSynced", "False", "PowerCycleRequired")

    # The user powers it off through the spec: herder stops it, then applies the change.
    patch_spec(stack, namespace, "app", {"powerState": "Off"})

    def applied() -> bool:
        vm = govc.vm(f"{namespace}.app")
        return vm is not None and hardware(vm)[:2] == (4, 3072) and power_of(vm) == "poweredOff"

    wait_for(applied, timeout=45, what="govc: 4 vCPUs, 3072 MiB, powered off")
    status = wait_ready(stack, namespace, "app")
    assert status["powerState"] == "Off" and status["phase"] == "Stopped"
    assert conditions(status)["ConfigSynced"]["status"] == "True"


def test_disks_grow_add_and_remove(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("db", disks={"data": [{"name": "a", "size": "1Gi"}, {"name": "b", "size": "2Gi"}]}),
          namespace=namespace)
    wait_ready(stack, namespace, "db")
    vm_name = f"{namespace}.db"
    vm = govc.vm(vm_name)
    assert vm is not None and Govc.disks(vm) == [1 * GIB, 2 * GIB, TEMPLATE_DISK]

    def disks_are(expected: list[int]) -> bool:
        current = govc.vm(vm_name)
        return current is not None and Govc.disks(current) == expected

    # Grow the OS disk and data disk a.
    patch_spec(stack, namespace, "db", {"disks": {"os": {"size": "12Gi"},
                                                  "data": [{"name": "a", "size": "4Gi"},
                                                           {"name": "b", "size": "2Gi"}]}})
    wait_for(lambda: disks_are([2 * GIB, 4 * GIB, 12 * GIB]), timeout=30, what="govc: os 12Gi, a 4Gi, b 2Gi")
    # Add a disk.
    patch_spec(stack, namespace, "db", {"disks": {"os": {"size": "12Gi"},
                                                  "data": [{"name": "a", "size": "4Gi"},
                                                           {"name": "b", "size": "2Gi"},
                                                           {"name": "c", "size": "6Gi"}]}})
    wait_for(lambda: disks_are([2 * GIB, 4 * GIB, 6 * GIB, 12 * GIB]), timeout=30, what="govc: disk c added")
    # Remove data disk b (a JSON merge patch replaces the whole list).
    patch_spec(stack, namespace, "db", {"disks": {"os": {"size": "12Gi"},
                                                  "data": [{"name": "a", "size": "4Gi"},
                                                           {"name": "c", "size": "6Gi"}]}})
    wait_for(lambda: disks_are([4 * GIB, 6 * GIB, 12 * GIB]), timeout=30, what="govc: disk b removed")
    status = wait_for(lambda: (s := wait_ready(stack, namespace, "db")) and s["observedGeneration"] == 4 and s,
                      timeout=30, what="Ready at generation 4")
    assert sorted((d["name"], int(d["size"])) for d in status["disks"]) == [
        ("a", 4 * GIB), ("c", 6 * GIB), ("os", 12 * GIB)]
    vm = govc.vm(vm_name)
    assert vm is not None and power_of(vm) == "poweredOn"  # disk changes never need a power cycle


def test_power_state_follows_the_spec(stack: StackState, operator: OperatorProcess, govc: Govc,
                                      namespace: str) -> None:
    apply(stack, ecs_manifest("box"), namespace=namespace)
    wait_ready(stack, namespace, "box")
    expected = {"Off": ("poweredOff", "Stopped"), "Suspended": ("suspended", "Suspended"),
                "On": ("poweredOn", "Running")}
    for generation, wanted in enumerate(("Off", "Suspended", "On"), start=2):
        patch_spec(stack, namespace, "box", {"powerState": wanted})
        vcenter_state, phase = expected[wanted]
        wait_for(lambda: power_of(govc.vm(f"{namespace}.box")) == vcenter_state, timeout=30,  # noqa: B023
                 what=f"govc: {vcenter_state}")
        def reported(generation: int = generation, wanted: str = wanted) -> dict[str, object] | None:
            s = wait_ready(stack, namespace, "box")
            return s if s["observedGeneration"] == generation and s["powerState"] == wanted else None

        status = wait_for(reported, timeout=30, what=f"status powerState {wanted}")
        assert status["phase"] == phase
        assert conditions(status)["PowerSynced"]["status"] == "True"


def test_delete_removes_the_vm(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    apply(stack, ecs_manifest("gone"), namespace=namespace)
    wait_ready(stack, namespace, "gone")
    assert govc.vms(f"{namespace}.") == [f"{namespace}.gone"]
    stack.kubectl("delete", "ecs", "gone", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "gone", namespace) is None, timeout=45, what="ECS gone")
    assert govc.vms(f"{namespace}.") == []


def test_delete_with_orphan_policy_keeps_the_vm_unmarked(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                          namespace: str) -> None:
    apply(stack, ecs_manifest("kept", deletionPolicy="Orphan"), namespace=namespace)
    wait_ready(stack, namespace, "kept")
    uid = uid_of(stack, namespace, "kept")
    stack.kubectl("delete", "ecs", "kept", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "kept", namespace) is None, timeout=45, what="ECS gone")
    vm = govc.vm(f"{namespace}.kept")
    assert vm is not None, "an orphaned VM must stay"
    assert power_of(vm) == "poweredOn"
    assert vm["config"]["instanceUuid"] == uid
    assert owner_field_value(govc, f"/DC0/vm/{namespace}.kept") == ""
    govc("vm.destroy", f"{namespace}.kept")  # tidy up: nothing owns it any more


def test_delete_when_the_vm_is_already_gone(stack: StackState, operator: OperatorProcess, govc: Govc,
                                            namespace: str) -> None:
    apply(stack, ecs_manifest("ghost"), namespace=namespace)
    wait_ready(stack, namespace, "ghost")
    govc("vm.destroy", f"{namespace}.ghost")
    wait_for(lambda: condition_is(stack, "ecs", "ghost", namespace, "Provisioned", "False", "VMMissing"),
             timeout=30, what="VMMissing")
    stack.kubectl("delete", "ecs", "ghost", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "ghost", namespace) is None, timeout=30, what="ECS deletion to complete")
    assert govc.vms(f"{namespace}.") == []


def test_image_change_requires_recreate_and_leaves_the_vm_alone(stack: StackState, operator: OperatorProcess,
                                                               govc: Govc, namespace: str) -> None:
    other = f"win-{namespace}"[:63]
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": other},
                  "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Windows",
                           "source": {"existing": {"name": "windows-2022-tmpl"}}}})
    try:
        apply(stack, ecs_manifest("img"), namespace=namespace)
        wait_ready(stack, namespace, "img")
        before = govc.vm(f"{namespace}.img")
        assert before is not None
        patch_spec(stack, namespace, "img", {"image": {"kind": "ClusterImage", "name": other}})
        status = wait_for(lambda: condition_is(stack, "ecs", "img", namespace, "ConfigSynced", "False",
                                               "RecreateRequired"), timeout=30, what="RecreateRequired")
        assert conditions(status)["Ready"]["status"] == "False"
        assert status["image"] == "ClusterImage/ubuntu-e2e"  # the image the VM was made from

        def unchanged() -> bool:
            vm = govc.vm(f"{namespace}.img")
            return (vm is not None and vm["self"] == before["self"]
                    and vm["config"]["instanceUuid"] == before["config"]["instanceUuid"]
                    and hardware(vm) == hardware(before) and power_of(vm) == "poweredOn")

        stays(unchanged, 4, what="govc: the VM is untouched (same moref, size, power)")
        assert govc.vms(f"{namespace}.") == [f"{namespace}.img"]
        assert status_of(stack, "ecs", "img", namespace)["observedGeneration"] == 2
    finally:
        stack.kubectl("delete", "clusterimage", other, "--wait=false", check=False)
