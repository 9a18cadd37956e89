"""The ECS planner: pure decisions, checked case by case."""

from __future__ import annotations

from dataclasses import replace

import pytest

from herder.api.annotations import CAPTURE_HOLD_ANNOTATION
from herder.providers.types import (
    DataDisk,
    ObservedDisk,
    ObservedVM,
    Operation,
    PowerState,
    Relocation,
    TaskRef,
    TaskResult,
    TaskStatus,
    VCenterPlacement,
    VMSpec,
)
from herder.reconcile.capture import CaptureHold, capture_hold
from herder.reconcile.conditions import Condition
from herder.reconcile.ecs import Desired, PoolTarget, Recorded, Step, plan, refused

GIB = 1024**3
SPEC = VMSpec(uid="uid-1", name="ns-web", template="/DC0/vm/tmpl", cpu=2, memory_mib=2048,
                  placement=VCenterPlacement(), os_disk_bytes=20 * GIB,
                  data_disks=(DataDisk("data", 10 * GIB),))
VM = ObservedVM(unique_id="uid-1", ref="vm-42", name="ns-web", power=PowerState.ON, cpu=2, memory_mib=2048,
                    disks=(ObservedDisk("2000", 20 * GIB, is_os_disk=True), ObservedDisk("2001", 10 * GIB, "data")))


def conditions(p: object) -> dict[str, tuple[bool, str]]:
    return {c.type: (c.status, c.reason) for c in p.conditions}  # type: ignore[attr-defined]


def test_no_vm_and_no_record_creates() -> None:
    p = plan(Desired(SPEC), None, Recorded())
    assert p.step is Step.CREATE
    assert conditions(p)["Ready"] == (False, "Creating")


def test_in_sync_vm_does_nothing_and_is_ready() -> None:
    p = plan(Desired(SPEC), VM, Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.NONE
    assert conditions(p)["Ready"] == (True, "Ready")


def test_running_task_is_followed_not_restarted() -> None:
    task = TaskRef("task-7", Operation.CREATE)
    p = plan(Desired(SPEC), None, Recorded(pending_task=task), TaskResult(TaskStatus.RUNNING))
    assert p.step is Step.WAIT
    assert not p.forget_task



def test_running_power_task_keeps_ready_false() -> None:
    task = TaskRef("task-8", Operation.POWER_ON)
    p = plan(Desired(SPEC), VM, Recorded(unique_id="uid-1", ref="vm-42", pending_task=task),
             TaskResult(TaskStatus.RUNNING))
    assert p.step is Step.WAIT
    assert conditions(p)["Ready"] == (False, "TaskRunning")
    assert conditions(p)["Provisioned"] == (True, "TaskRunning")

def test_failed_create_with_leftover_vm_is_compensated() -> None:
    task = TaskRef("task-7", Operation.CREATE)
    p = plan(Desired(SPEC), VM, Recorded(pending_task=task), TaskResult(TaskStatus.FAILED, error="no space"))
    assert p.step is Step.DESTROY_FAILED_CREATE
    assert p.forget_task
    assert conditions(p)["Provisioned"] == (False, "CreateFailed")


def test_unknown_task_falls_back_to_what_the_backend_shows() -> None:
    task = TaskRef("task-7", Operation.CREATE)
    p = plan(Desired(SPEC), VM, Recorded(pending_task=task), TaskResult(TaskStatus.UNKNOWN))
    assert p.step is Step.NONE and p.forget_task


def test_vanished_vm_is_reported_not_recreated() -> None:
    p = plan(Desired(SPEC), None, Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.NONE
    assert conditions(p)["Provisioned"] == (False, "VMMissing")


def test_vanished_vm_is_recreated_when_asked() -> None:
    p = plan(Desired(SPEC, recreate_requested=True), None, Recorded(unique_id="uid-1"))
    assert p.step is Step.CREATE and p.forget_identity


def test_paused_makes_no_backend_step() -> None:
    p = plan(Desired(replace(SPEC, cpu=4), paused=True), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.NONE
    assert conditions(p)["Paused"] == (True, "Paused")


def test_cpu_change_without_hot_add_needs_power_cycle() -> None:
    p = plan(Desired(replace(SPEC, cpu=4)), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.NONE
    assert conditions(p)["ConfigSynced"] == (False, "PowerCycleRequired")


def test_cpu_change_with_hot_add_reconfigures_live() -> None:
    p = plan(Desired(replace(SPEC, cpu=4)), replace(VM, cpu_hot_add=True), Recorded(unique_id="uid-1"))
    assert p.step is Step.RECONFIGURE and p.change.cpu == 4


def test_power_cycle_policy_powers_off_first() -> None:
    p = plan(Desired(replace(SPEC, cpu=4), power_cycle_allowed=True), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.POWER and p.power is PowerState.OFF


def test_powered_off_vm_is_reconfigured_then_powered_on() -> None:
    off = replace(VM, power=PowerState.OFF)
    first = plan(Desired(replace(SPEC, memory_mib=4096)), off, Recorded(unique_id="uid-1"))
    assert first.step is Step.RECONFIGURE and first.change.memory_mib == 4096
    second = plan(Desired(SPEC), off, Recorded(unique_id="uid-1"))
    assert second.step is Step.POWER and second.power is PowerState.ON


@pytest.mark.parametrize(("spec_disks", "expect_add", "expect_grow", "expect_remove"), [
    ((DataDisk("data", 10 * GIB), DataDisk("logs", 5 * GIB)), ("logs",), (), ()),
    ((DataDisk("data", 30 * GIB),), (), (("2001", 30 * GIB),), ()),
    ((), (), (), ("2001",)),
])
def test_disk_changes_are_hot(spec_disks: tuple[DataDisk, ...], expect_add: tuple[str, ...],
                              expect_grow: tuple[tuple[str, int], ...], expect_remove: tuple[str, ...]) -> None:
    p = plan(Desired(replace(SPEC, data_disks=spec_disks)), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.RECONFIGURE
    assert tuple(d.name for d in p.change.add_disks) == expect_add
    assert p.change.grow_disks == expect_grow
    assert p.change.remove_disks == expect_remove


def test_disks_never_shrink() -> None:
    p = plan(Desired(replace(SPEC, os_disk_bytes=10 * GIB)), VM, Recorded(unique_id="uid-1"))
    assert conditions(p)["ConfigSynced"] == (False, "ShrinkNotSupported")


def test_suspend_from_off_powers_on_first() -> None:
    p = plan(Desired(replace(SPEC, power=PowerState.SUSPENDED)), replace(VM, power=PowerState.OFF),
             Recorded(unique_id="uid-1"))
    assert p.step is Step.POWER and p.power is PowerState.ON


def test_image_change_is_reported_not_applied() -> None:
    p = plan(Desired(SPEC, image_changed=True), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.NONE
    assert conditions(p)["ConfigSynced"] == (False, "RecreateRequired")


def test_adoption_marks_a_foreign_vm() -> None:
    foreign = replace(VM, unique_id="other-uuid", owner_uid=None)
    p = plan(Desired(SPEC, adopt_unique_id="other-uuid"), foreign, Recorded())
    assert p.step is Step.ADOPT


def test_failed_power_task_is_reported() -> None:
    p = plan(Desired(SPEC), replace(VM, power=PowerState.OFF), Recorded(pending_task=TaskRef("t", Operation.POWER_ON)),
             TaskResult(TaskStatus.FAILED, error="admission control: insufficient CPU"))
    assert conditions(p)["PowerSynced"] == (False, "PowerFailed")
    assert "insufficient CPU" in next(c.message for c in p.conditions if c.type == "PowerSynced")


def test_recreate_after_image_change_destroys_then_creates() -> None:
    first = plan(Desired(SPEC, image_changed=True, recreate_requested=True), VM, Recorded(unique_id="uid-1"))
    assert first.step is Step.DESTROY_FOR_RECREATE
    assert conditions(first)["Provisioned"] == (False, "Recreating")
    second = plan(Desired(SPEC, image_changed=True, recreate_requested=True), None, Recorded(unique_id="uid-1"))
    assert second.step is Step.CREATE and second.forget_identity


def test_image_change_without_recreate_annotation_keeps_the_vm() -> None:
    p = plan(Desired(SPEC, image_changed=True), VM, Recorded(unique_id="uid-1"))
    assert p.step is Step.NONE


def test_running_create_task_writes_the_same_condition_as_its_start() -> None:
    start = plan(Desired(SPEC), None, Recorded())
    waiting = plan(Desired(SPEC), None, Recorded(pending_task=TaskRef("t", Operation.CREATE)),
                   TaskResult(TaskStatus.RUNNING))
    assert conditions(start)["Provisioned"] == conditions(waiting)["Provisioned"]
    assert [c.message for c in start.conditions if c.type == "Provisioned"] == \
        [c.message for c in waiting.conditions if c.type == "Provisioned"]


def test_failed_create_forgets_the_half_made_vm() -> None:
    create = TaskRef("task-7", Operation.CREATE)
    p = plan(Desired(SPEC), VM, Recorded(unique_id="uid-1", ref="vm-42", pending_task=create),
             TaskResult(TaskStatus.FAILED, error="no space"))
    assert p.step is Step.DESTROY_FAILED_CREATE and p.forget_identity


def test_compensation_done_leads_to_a_new_create_not_vm_missing() -> None:
    destroy = TaskRef("task-9", Operation.COMPENSATE)
    running = plan(Desired(SPEC), VM, Recorded(unique_id="uid-1", ref="vm-42", pending_task=destroy),
                   TaskResult(TaskStatus.RUNNING))
    assert running.step is Step.WAIT and running.forget_identity and not running.forget_task
    assert conditions(running)["Ready"] == (False, "CreateFailed")
    done = plan(Desired(SPEC), None, Recorded(unique_id="uid-1", ref="vm-42", pending_task=destroy),
                TaskResult(TaskStatus.SUCCEEDED))
    assert done.step is Step.NONE and done.forget_identity and done.forget_task
    assert conditions(done)["Provisioned"] == (False, "CreateFailed")
    # With the identity forgotten, the next pass creates again.
    assert plan(Desired(SPEC), None, Recorded()).step is Step.CREATE


def test_failed_power_on_carries_the_backend_message_on_power_synced() -> None:
    # Providers record "power-on" / "power-off" / "suspend"; admission control refuses a power-on.
    refused = "Insufficient resources to satisfy configured failover level for vSphere HA."
    p = plan(Desired(SPEC), replace(VM, power=PowerState.OFF), Recorded(pending_task=TaskRef("t", Operation.POWER_ON)),
             TaskResult(TaskStatus.FAILED, error=refused))
    assert conditions(p)["PowerSynced"] == (False, "PowerFailed")
    assert "ConfigSynced" not in conditions(p)
    assert refused in next(c.message for c in p.conditions if c.type == "PowerSynced")
    assert conditions(p)["Ready"] == (False, "PowerFailed")


ON_H1 = replace(VM, host="DC0_C0_H0", datastore="LocalDS_0")


def test_pinning_another_host_relocates_live() -> None:
    p = plan(Desired(SPEC, pinned_host="DC0_C0_H1"), ON_H1, Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.RELOCATE
    assert p.relocate == Relocation(host="DC0_C0_H1")
    assert p.power is None  # never a power cycle for a move
    assert conditions(p)["PlacementSynced"] == (False, "Migrating")


def test_pinned_datastore_by_path_compares_by_name() -> None:
    same = plan(Desired(SPEC, pinned_host="/DC0/host/DC0_C0/DC0_C0_H0", pinned_datastore="LocalDS_0"), ON_H1,
                Recorded(unique_id="uid-1", ref="vm-42"))
    assert same.step is Step.NONE
    assert conditions(same)["PlacementSynced"] == (True, "Placed")
    assert conditions(same)["Ready"] == (True, "Ready")
    moved = plan(Desired(SPEC, pinned_datastore="LocalDS_1"), ON_H1, Recorded(unique_id="uid-1", ref="vm-42"))
    assert moved.step is Step.RELOCATE and moved.relocate == Relocation(storage="LocalDS_1")


def test_no_pin_no_placement_condition_and_no_move() -> None:
    p = plan(Desired(SPEC), ON_H1, Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.NONE and "PlacementSynced" not in conditions(p)


IN_ROOT = replace(ON_H1, resource_pool="Resources")


def test_changing_the_pool_moves_the_vm_and_status_shows_it_placed_once_there() -> None:
    recorded = Recorded(unique_id="uid-1", ref="vm-42")
    p = plan(Desired(SPEC, pool=PoolTarget("team", named=True)), IN_ROOT, recorded)
    assert p.step is Step.RELOCATE and p.relocate == Relocation(pool=True)
    placed = next(c for c in p.conditions if c.type == "PlacementSynced")
    assert (placed.status, placed.reason) == (False, "Migrating") and "moving to pool team" in placed.message
    there = plan(Desired(SPEC, pool=PoolTarget("team", named=True)), replace(IN_ROOT, resource_pool="team"), recorded)
    assert there.step is Step.NONE and conditions(there)["PlacementSynced"] == (True, "Placed")
    # Back to the zone's own pool once spec.resourcePool is removed; no condition once it is there.
    back = plan(Desired(SPEC, pool=PoolTarget("Resources")), replace(IN_ROOT, resource_pool="team"), recorded)
    assert back.step is Step.RELOCATE and back.relocate == Relocation(pool=True)
    home = plan(Desired(SPEC, pool=PoolTarget("Resources")), IN_ROOT, recorded)
    assert home.step is Step.NONE and "PlacementSynced" not in conditions(home)


def test_scvmm_hosts_match_by_short_name_and_storage_paths_without_case() -> None:
    on_vmm = replace(VM, host="hv-a1.herder.test", datastore="D:\\VMs", resource_pool=None)
    recorded = Recorded(unique_id="uid-1", ref="vm-42")
    same = plan(Desired(SPEC, pinned_host="HV-A1", pinned_datastore="d:\\vms\\", pool=PoolTarget(None)), on_vmm,
                recorded)
    assert same.step is Step.NONE and conditions(same)["PlacementSynced"] == (True, "Placed")
    moved = plan(Desired(SPEC, pinned_host="hv-a2", pinned_datastore="E:\\Fast", pool=PoolTarget("gold", named=True)),
                 on_vmm, recorded)
    assert moved.relocate == Relocation(host="hv-a2", storage="E:\\Fast", pool=True)


@pytest.mark.parametrize(("operation", "observed", "kind", "reason"), [
    (Operation.CREATE, None, "Provisioned", "CreateFailed"),
    (Operation.RELOCATE, ON_H1, "PlacementSynced", "MigrationFailed"),
    (Operation.RECONFIGURE, VM, "ConfigSynced", "ReconfigureFailed"),
    (Operation.POWER_ON, VM, "PowerSynced", "PowerFailed"),
])
def test_a_step_refused_when_asked_fails_like_its_task(operation: Operation, observed: ObservedVM | None, kind: str,
                                                         reason: str) -> None:
    p = refused(operation, "cloud gold: 2 used, 1 more requested, 2 allowed (Error ID: 13252)", observed)
    assert p.step is Step.NONE and conditions(p)[kind] == (False, reason) == conditions(p)["Ready"]
    assert "refused: cloud gold" in next(c.message for c in p.conditions if c.type == kind)
    assert p.forget_identity is (operation is Operation.CREATE)


def test_relocation_waits_while_paused() -> None:
    p = plan(Desired(SPEC, pinned_host="DC0_C0_H1", paused=True), ON_H1, Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.NONE


def test_relocate_task_is_followed_and_a_refusal_is_held_until_its_backoff_ends() -> None:
    task = TaskRef("task-3", Operation.RELOCATE)
    running = plan(Desired(SPEC, pinned_host="DC0_C0_H1"), ON_H1,
                   Recorded(unique_id="uid-1", ref="vm-42", pending_task=task), TaskResult(TaskStatus.RUNNING))
    assert running.step is Step.WAIT
    failed = plan(Desired(SPEC, pinned_host="DC0_C0_H1"), ON_H1,
                  Recorded(unique_id="uid-1", ref="vm-42", pending_task=task),
                  TaskResult(TaskStatus.FAILED, error="The host is in maintenance mode"))
    assert failed.step is Step.NONE and failed.forget_task
    assert conditions(failed)["PlacementSynced"] == (False, "MigrationFailed")
    message = next(c.message for c in failed.conditions if c.type == "PlacementSynced")
    assert "maintenance mode" in message
    # While the backoff runs, the refusal is held: reported, not tried again; other changes still go ahead.
    held = Condition("PlacementSynced", False, "MigrationFailed", message)
    again = plan(Desired(SPEC, pinned_host="DC0_C0_H1", held=held), ON_H1, Recorded(unique_id="uid-1", ref="vm-42"))
    assert again.step is Step.NONE
    assert conditions(again)["PlacementSynced"] == (False, "MigrationFailed")
    assert conditions(again)["Ready"] == (False, "MigrationFailed")
    grow = plan(Desired(replace(SPEC, cpu=4), pinned_host="DC0_C0_H1", held=held), replace(ON_H1, cpu_hot_add=True),
                Recorded(unique_id="uid-1", ref="vm-42"))
    assert grow.step is Step.RECONFIGURE
    # Once it is due (no hold), the move is tried again.
    assert plan(Desired(SPEC, pinned_host="DC0_C0_H1"), ON_H1, Recorded(unique_id="uid-1", ref="vm-42")).step \
        is Step.RELOCATE


@pytest.mark.parametrize(("held", "observed", "step"), [
    (Condition("PowerSynced", False, "PowerFailed", "Insufficient memory resources"),
     replace(VM, power=PowerState.OFF), Step.POWER),
    (Condition("Provisioned", False, "CreateFailed", "the create failed; the half-made VM is removed, retrying"),
     None, Step.CREATE),
    (Condition("ConfigSynced", False, "ReconfigureFailed", "disk full"), replace(VM, cpu=1, cpu_hot_add=True),
     Step.RECONFIGURE),
])
def test_a_failed_step_is_held_then_retried(held: Condition, observed: ObservedVM | None, step: Step) -> None:
    waiting = plan(Desired(SPEC, held=held), observed, Recorded())
    assert waiting.step is Step.NONE
    assert conditions(waiting)[held.type] == (False, held.reason)
    assert conditions(waiting)["Ready"] == (False, held.reason)
    assert plan(Desired(SPEC), observed, Recorded()).step is step


def test_relocation_comes_before_a_reconfigure() -> None:
    p = plan(Desired(replace(SPEC, cpu=4), pinned_host="DC0_C0_H1"), replace(ON_H1, cpu_hot_add=True),
             Recorded(unique_id="uid-1", ref="vm-42"))
    assert p.step is Step.RELOCATE
    after = plan(Desired(replace(SPEC, cpu=4), pinned_host="DC0_C0_H1"),
                 replace(ON_H1, cpu_hot_add=True, host="DC0_C0_H1"), Recorded(unique_id="uid-1", ref="vm-42"))
    assert after.step is Step.RECONFIGURE


GRACEFUL = CaptureHold("Image/ns/golden", "u-1", graceful=True)


def test_a_capture_hold_stops_the_server_through_its_guest_and_holds_every_other_change() -> None:
    resized = replace(SPEC, cpu=4)  # a change that would otherwise be applied (power cycle allowed)
    desired = Desired(resized, capture_hold=GRACEFUL, power_cycle_allowed=True, pinned_host="DC0_H1")
    p = plan(desired, VM, Recorded(unique_id="uid-1", ref="vm-42"))
    assert (p.step, p.power, p.graceful) == (Step.POWER, PowerState.OFF, True)
    assert conditions(p)["PowerSynced"] == (False, "StoppedForCapture")
    assert conditions(p)["Ready"][0] is False

    stopped = plan(desired, replace(VM, power=PowerState.OFF), Recorded(unique_id="uid-1", ref="vm-42"))
    assert stopped.step is Step.NONE  # no power-on, no resize, no move while the capture runs
    assert "stays off until the capture ends" in next(c.message for c in stopped.conditions
                                                      if c.type == "PowerSynced")

    released = plan(replace(desired, capture_hold=None), replace(VM, power=PowerState.OFF),
                    Recorded(unique_id="uid-1", ref="vm-42"))
    assert released.step is Step.RELOCATE  # the hold gone, the held changes follow


def test_a_capture_hold_pulls_the_power_for_power_off_and_for_a_suspended_server() -> None:
    hard = Desired(SPEC, capture_hold=CaptureHold("ClusterImage/base", "u-2", graceful=False))
    p = plan(hard, VM, Recorded(unique_id="uid-1", ref="vm-42"))
    assert (p.step, p.power, p.graceful) == (Step.POWER, PowerState.OFF, False)
    suspended = plan(Desired(SPEC, capture_hold=GRACEFUL), replace(VM, power=PowerState.SUSPENDED),
                     Recorded(unique_id="uid-1", ref="vm-42"))
    assert (suspended.step, suspended.graceful) == (Step.POWER, False)  # a suspended guest cannot shut down


def test_a_failed_guest_shutdown_is_power_failed_and_held() -> None:
    task = TaskRef("guest-shutdown:vm-42", Operation.GUEST_SHUTDOWN)
    failed = plan(Desired(SPEC, capture_hold=GRACEFUL), VM, Recorded(unique_id="uid-1", ref="vm-42",
                  pending_task=task), TaskResult(TaskStatus.FAILED, error="the guest OS did not shut down"))
    assert failed.step is Step.NONE and failed.forget_task
    assert conditions(failed)["PowerSynced"] == (False, "PowerFailed")
    held = next(c for c in failed.conditions if c.type == "PowerSynced")
    again = plan(Desired(SPEC, capture_hold=GRACEFUL, held=held), VM, Recorded(unique_id="uid-1", ref="vm-42"))
    assert again.step is Step.NONE and conditions(again)["PowerSynced"] == (False, "PowerFailed")


@pytest.mark.parametrize(("value", "expected"), [
    ("GuestShutdown:Image/ns/golden:u-1", GRACEFUL),
    ("PowerOff:ClusterImage/base:u-2", CaptureHold("ClusterImage/base", "u-2", graceful=False)),
    ("true", None), ("Live:Image/ns/x:u-3", None), ("GuestShutdown:Image/ns/x", None), ("PowerOff::u-4", None),
    ("PowerOff:Image/ns/x:u-5:extra", None), (None, None),
])
def test_only_a_hold_herder_wrote_stops_a_server(value: str | None, expected: CaptureHold | None) -> None:
    annotations = {CAPTURE_HOLD_ANNOTATION: value} if value is not None else None
    assert capture_hold(annotations) == expected
    if expected is not None:
        assert expected.annotation() == value


def test_a_capture_hold_defers_a_requested_recreate() -> None:
    recreate = Desired(SPEC, image_changed=True, recreate_requested=True)
    assert plan(recreate, VM, Recorded(unique_id="uid-1", ref="vm-42")).step is Step.DESTROY_FOR_RECREATE
    held = plan(replace(recreate, capture_hold=GRACEFUL), replace(VM, power=PowerState.OFF),
                Recorded(unique_id="uid-1", ref="vm-42"))
    assert held.step is Step.NONE  # not destroyed in the middle of the clone
