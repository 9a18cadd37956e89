"""The ECS lifecycle on both backends: create, resize under the Manual policy, disks, power states, a VM already
gone at deletion, an image change. Every result is read back with the backend's own tools (govc; the SCVMM
simulator's state and plain pywinrm)."""

from __future__ import annotations

from e2e_world import (
    GIB,
    Backend,
    apply,
    condition_is,
    conditions,
    get,
    patch_spec,
    status_of,
    stays,
    uid_of,
    wait_for,
    wait_ready,
)

from herder_dev.stack import StackState


def test_create_builds_the_declared_vm_and_reports_it(stack: StackState, backend: Backend, namespace: str) -> None:
    os_disk = backend.template_disk + 10 * GIB  # grown right after the clone
    apply(stack, backend.manifest("web", cpu=3, memory="3Gi", powerState="On",
                                  disks={"os": {"size": f"{os_disk // GIB}Gi"},
                                         "data": [{"name": "logs", "size": "5Gi"}, {"name": "db", "size": "3Gi"}]}),
          namespace=namespace)
    status = wait_ready(stack, namespace, "web", timeout=90)

    vm = backend.vm(namespace, "web")
    assert vm is not None, f"{backend}: no VM {namespace}.web"
    assert (vm["cpu"], vm["memory_mib"], vm["power"]) == (3, 3072, "On")
    assert vm["disks"] == sorted([3 * GIB, 5 * GIB, os_disk])
    body = get(stack, "ecs", "web", namespace)
    assert body is not None
    assert vm["identity"] == body["metadata"]["uid"] == uid_of(stack, namespace, "web")
    assert status["uniqueID"] == vm["id"]
    assert backend.names(namespace) == [f"{namespace}.web"]
    # Where it runs, as the backend says: a host of the zone, its storage, the zone's own pool.
    assert backend.in_zone(vm, backend.zone) and status["host"] == vm["host"]
    assert status["datastore"] == vm["storage"]
    assert "resourcePool" not in status
    assert (status["powerState"], status["zone"], status["phase"]) == ("On", backend.zone, "Running")
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert "pendingTask" not in status
    conds = conditions(status)
    for type_ in ("Ready", "Provisioned", "ConfigSynced", "PowerSynced"):
        assert conds[type_]["status"] == "True", conds[type_]
        assert conds[type_]["observedGeneration"] == body["metadata"]["generation"]
    assert conds["Paused"]["status"] == "False"
    assert "PlacementSynced" not in conds  # nothing pinned, no pool named


def test_resize_with_manual_policy_waits_for_the_user(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("app"), namespace=namespace)  # powerCyclePolicy defaults to Manual
    wait_ready(stack, namespace, "app", timeout=90)
    patch_spec(stack, namespace, "app", {"cpu": 4, "memory": "3Gi"})

    status = wait_for(lambda: condition_is(stack, "ecs", "app", namespace, "ConfigSynced", "False",
                                           "PowerCycleRequired"), timeout=30, what="PowerCycleRequired")
    ready = conditions(status)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "PowerCycleRequired"
    assert "powerCyclePolicy" in conditions(status)["ConfigSynced"]["message"]  # tells the user what to do

    def untouched() -> bool:
        vm = backend.vm(namespace, "app")
        return vm is not None and (vm["cpu"], vm["memory_mib"], vm["power"]) == (2, 2048, "On")

    stays(untouched, 4, what=f"{backend}: VM untouched (2 vCPUs, 2048 MiB, on)")
    assert condition_is(stack, "ecs", "app", namespace, "ConfigSynced", "False", "PowerCycleRequired")

    # The user powers it off through the spec: herder stops it, then applies the change.
    patch_spec(stack, namespace, "app", {"powerState": "Off"})

    def applied() -> bool:
        vm = backend.vm(namespace, "app")
        return vm is not None and (vm["cpu"], vm["memory_mib"], vm["power"]) == (4, 3072, "Off")

    wait_for(applied, timeout=60, what=f"{backend}: 4 vCPUs, 3072 MiB, powered off")
    status = wait_for(lambda: (s := wait_ready(stack, namespace, "app")) and s["observedGeneration"] == 3 and s,
                      timeout=30, what="Ready at generation 3")
    assert status["powerState"] == "Off" and status["phase"] == "Stopped"
    assert conditions(status)["ConfigSynced"]["status"] == "True"


def test_disks_grow_add_and_remove(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("db", disks={"data": [{"name": "a", "size": "1Gi"}, {"name": "b", "size": "2Gi"}]}),
          namespace=namespace)
    wait_ready(stack, namespace, "db", timeout=90)
    os_disk = backend.template_disk
    grown = os_disk + 2 * GIB

    def disks_are(expected: list[int]) -> bool:
        vm = backend.vm(namespace, "db")
        return vm is not None and vm["disks"] == sorted(expected)

    assert disks_are([1 * GIB, 2 * GIB, os_disk])
    os_size = {"size": f"{grown // GIB}Gi"}
    # Grow the OS disk and data disk a.
    patch_spec(stack, namespace, "db", {"disks": {"os": os_size, "data": [{"name": "a", "size": "4Gi"},
                                                                          {"name": "b", "size": "2Gi"}]}})
    wait_for(lambda: disks_are([2 * GIB, 4 * GIB, grown]), timeout=60, what=f"{backend}: os grown, a 4Gi, b 2Gi")
    # Add a disk.
    patch_spec(stack, namespace, "db", {"disks": {"os": os_size, "data": [{"name": "a", "size": "4Gi"},
                                                                          {"name": "b", "size": "2Gi"},
                                                                          {"name": "c", "size": "6Gi"}]}})
    wait_for(lambda: disks_are([2 * GIB, 4 * GIB, 6 * GIB, grown]), timeout=60, what=f"{backend}: disk c added")
    # Remove data disk b (a JSON merge patch replaces the whole list).
    patch_spec(stack, namespace, "db", {"disks": {"os": os_size, "data": [{"name": "a", "size": "4Gi"},
                                                                          {"name": "c", "size": "6Gi"}]}})
    wait_for(lambda: disks_are([4 * GIB, 6 * GIB, grown]), timeout=60, what=f"{backend}: disk b removed")
    status = wait_for(lambda: (s := wait_ready(stack, namespace, "db")) and s["observedGeneration"] == 4 and s,
                      timeout=30, what="Ready at generation 4")
    assert sorted((d["name"], int(d["size"])) for d in status["disks"]) == [
        ("a", 4 * GIB), ("c", 6 * GIB), ("os", grown)]
    vm = backend.vm(namespace, "db")
    assert vm is not None and vm["power"] == "On"  # disk changes never need a power cycle


def test_power_state_follows_the_spec(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("box"), namespace=namespace)
    wait_ready(stack, namespace, "box", timeout=90)
    phases = {"Off": "Stopped", "Suspended": "Suspended", "On": "Running"}
    for generation, wanted in enumerate(("Off", "Suspended", "On"), start=2):
        patch_spec(stack, namespace, "box", {"powerState": wanted})
        wait_for(lambda: (backend.vm(namespace, "box") or {}).get("power") == wanted, timeout=60,  # noqa: B023
                 what=f"{backend}: {wanted}")

        def reported(generation: int = generation, wanted: str = wanted) -> dict[str, object] | None:
            s = wait_ready(stack, namespace, "box")
            return s if s["observedGeneration"] == generation and s["powerState"] == wanted else None

        status = wait_for(reported, timeout=45, what=f"status powerState {wanted}")
        assert status["phase"] == phases[wanted]
        assert conditions(status)["PowerSynced"]["status"] == "True"
    assert backend.count(namespace) == 1


def test_delete_when_the_vm_is_already_gone(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("ghost"), namespace=namespace)
    wait_ready(stack, namespace, "ghost", timeout=90)
    backend.destroy_out_of_band(namespace, "ghost")
    wait_for(lambda: condition_is(stack, "ecs", "ghost", namespace, "Provisioned", "False", "VMMissing"),
             timeout=backend.drift_bound + 15, what="VMMissing")
    stack.kubectl("delete", "ecs", "ghost", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "ghost", namespace) is None, timeout=30, what="ECS deletion to complete")
    assert backend.names(namespace) == []


def test_image_change_requires_recreate_and_leaves_the_vm_alone(stack: StackState, backend: Backend,
                                                               namespace: str) -> None:
    other = f"other-{namespace}"[:63]
    apply(stack, backend.image_manifest(other))
    try:
        apply(stack, backend.manifest("img"), namespace=namespace)
        wait_ready(stack, namespace, "img", timeout=90)
        before = backend.vm(namespace, "img")
        assert before is not None
        patch_spec(stack, namespace, "img", {"image": {"kind": "ClusterImage", "name": other}})
        status = wait_for(lambda: condition_is(stack, "ecs", "img", namespace, "ConfigSynced", "False",
                                               "RecreateRequired"), timeout=30, what="RecreateRequired")
        assert conditions(status)["Ready"]["status"] == "False"
        assert status["image"] == f"ClusterImage/{backend.image}"  # the image the VM was made from

        def unchanged() -> bool:
            vm = backend.vm(namespace, "img")
            return vm is not None and all(vm[k] == before[k] for k in ("id", "cpu", "memory_mib", "disks", "power"))

        stays(unchanged, 4, what=f"{backend}: the VM is untouched (same ID, size, power)")
        assert backend.names(namespace) == [f"{namespace}.img"]
        assert status_of(stack, "ecs", "img", namespace)["observedGeneration"] == 2
    finally:
        stack.kubectl("delete", "clusterimage", other, "--wait=false", check=False)
