"""ServerSnapshots, restores and schedules end to end, on both backends: vCenter (vcsim, read back with govc
snapshot.tree) and SCVMM (the stack's simulator, read back with Get-SCVMCheckpoint over a plain WinRM session).
The snapshots are real backend snapshots; only the schedule's clock is moved (herder.clock), never slept on.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_world import (
    Backend,
    Govc,
    HerderClock,
    apply,
    condition_is,
    conditions,
    ecs_ready,
    get,
    patch_spec,
    status_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


def snapshot(name: str, server: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ServerSnapshot", "metadata": {"name": name},
            "spec": {"server": server} | spec}


def restore(name: str, snap: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ServerSnapshotRestore", "metadata": {"name": name},
            "spec": {"snapshot": snap} | spec}


def ready(stack: StackState, kind: str, name: str, namespace: str, timeout: float = 60.0) -> dict[str, Any]:
    try:
        found: dict[str, Any] = wait_for(lambda: condition_is(stack, kind, name, namespace, "Ready", "True"),
                                         timeout=timeout, interval=0.3, what=f"{kind} {namespace}/{name} Ready")
    except AssertionError as exc:
        summary = {t: (c["status"], c["reason"], c["message"])
                   for t, c in conditions(status_of(stack, kind, name, namespace)).items()}
        raise AssertionError(f"{exc}; conditions: {summary}") from None
    return found


def reason_is(stack: StackState, kind: str, name: str, namespace: str, reason: str,  # noqa: PLR0917
              timeout: float = 60.0) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(lambda: condition_is(stack, kind, name, namespace, "Ready", "False", reason),
                                     timeout=timeout, interval=0.3,
                                     what=f"{kind} {namespace}/{name} Ready=False {reason}")
    return found


def mine(backend: Backend, namespace: str, server: str, uid: str) -> list[dict[str, str]]:
    """The backend snapshots of `server` that carry ServerSnapshot `uid` (in name and description)."""
    return [s for s in backend.snapshots(namespace, server) if uid in s["name"] and uid in s["description"]]


def events(stack: StackState, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(stack.kubectl("get", "events", "-o", "json",
                                                           namespace=namespace).stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


def test_take_restore_and_delete(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("web", powerCyclePolicy="Automatic"), namespace=namespace)
    wait_ready(stack, namespace, "web", timeout=90)
    apply(stack, snapshot("before", "web", description="before the upgrade"), namespace=namespace)
    status = ready(stack, "ssnap", "before", namespace)
    uid = str((get(stack, "ssnap", "before", namespace) or {})["metadata"]["uid"])
    taken = mine(backend, namespace, "web", uid)
    assert [s["id"] for s in taken] == [status["uniqueID"]], backend.snapshots(namespace, "web")
    assert status["readyToUse"] is True and status["serverUniqueID"] == (backend.vm(namespace, "web") or {})["id"]
    assert status["creationTime"] and status["provider"]["kind"] == ("SCVMM" if backend.sim else "VCenter")
    shown = stack.kubectl("get", "ssnap", "before", namespace=namespace).stdout
    assert "web" in shown and "true" in shown.lower(), shown

    # After the snapshot: more CPUs by spec, and a disk added by hand (herder leaves such disks alone).
    patch_spec(stack, namespace, "web", {"cpu": 4})
    wait_for(lambda: (s := ecs_ready(stack, namespace, "web")) and s.get("observedGeneration") == 2
             and s.get("cpu") == 4 and not s.get("pendingTask"), timeout=90, what="4 vCPUs, running again")
    backend.add_disk_out_of_band(namespace, "web")
    wait_for(lambda: len((backend.vm(namespace, "web") or {}).get("disks") or []) == 2, timeout=30,
             what="the hand-made disk")

    apply(stack, restore("rollback", "before"), namespace=namespace)
    done = ready(stack, "ssrestore", "rollback", namespace, timeout=120)
    assert conditions(done)["Ready"]["reason"] == "Restored" and done["phase"] == "Completed"
    assert done["server"] == "web" and done["completionTime"]
    # The backend went back to the snapshot: the disk added after it is gone ...
    vm = backend.vm(namespace, "web")
    assert vm is not None and vm["disks"] == [backend.template_disk], vm
    # ... and the CPUs too, which the ECS then put back to its spec, saying so.
    reverted = wait_for(lambda: [e for e in events(stack, namespace, "web") if e["reason"] == "RevertedOffSpec"],
                        timeout=60, what="the ECS's RevertedOffSpec Event")
    assert "CPU" in reverted[0]["message"] or "cpu" in reverted[0]["message"], reverted
    wait_for(lambda: (backend.vm(namespace, "web") or {}).get("cpu") == 4, timeout=90, what="4 vCPUs again")
    server = wait_ready(stack, namespace, "web", timeout=90)
    assert server["cpu"] == 4 and not server.get("restoring")

    # A restore is final: deleting it changes nothing; the snapshot is still there.
    stack.kubectl("delete", "ssrestore", "rollback", namespace=namespace)
    assert [s["id"] for s in mine(backend, namespace, "web", uid)] == [status["uniqueID"]]
    stack.kubectl("delete", "ssnap", "before", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ssnap", "before", namespace) is None, timeout=60, what="ServerSnapshot gone")
    assert mine(backend, namespace, "web", uid) == []


def test_snapshot_waits_for_its_server_then_proceeds(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, snapshot("early", "later"), namespace=namespace)
    reason_is(stack, "ssnap", "early", namespace, "WaitingForServer")
    apply(stack, backend.manifest("later"), namespace=namespace)
    status = ready(stack, "ssnap", "early", namespace, timeout=120)
    uid = str((get(stack, "ssnap", "early", namespace) or {})["metadata"]["uid"])
    assert [s["id"] for s in mine(backend, namespace, "later", uid)] == [status["uniqueID"]]


def test_out_of_band_removal_is_lost_not_retaken(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("box"), snapshot("snap", "box"), namespace=namespace)
    status = ready(stack, "ssnap", "snap", namespace, timeout=120)
    uid = str((get(stack, "ssnap", "snap", namespace) or {})["metadata"]["uid"])
    backend.remove_snapshot_out_of_band(namespace, "box", status["uniqueID"])
    lost = reason_is(stack, "ssnap", "snap", namespace, "Lost", timeout=backend.drift_bound + 10)
    assert lost["readyToUse"] is False
    time.sleep(3)
    assert mine(backend, namespace, "box", uid) == [], "a lost snapshot must not be taken again"
    assert conditions(status_of(stack, "ssnap", "snap", namespace))["Stalled"]["status"] == "True"


def test_server_deleted_reports_server_gone(stack: StackState, backend: Backend, namespace: str) -> None:
    apply(stack, backend.manifest("short"), snapshot("snap", "short"), namespace=namespace)
    ready(stack, "ssnap", "snap", namespace, timeout=120)
    stack.kubectl("delete", "ecs", "short", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ecs", "short", namespace) is None, timeout=60, what="ECS gone")
    reason_is(stack, "ssnap", "snap", namespace, "ServerGone")
    stack.kubectl("delete", "ssnap", "snap", "--wait=false", namespace=namespace)
    wait_for(lambda: get(stack, "ssnap", "snap", namespace) is None, timeout=30, what="ServerSnapshot gone")


def test_paused_server_is_not_snapshotted_until_resumed(stack: StackState, backend: Backend,
                                                        namespace: str) -> None:
    apply(stack, backend.manifest("quiet", annotations={"herder.dev/paused": "true"}), namespace=namespace)
    wait_for(lambda: (backend.vm(namespace, "quiet") or {}).get("id") is None, timeout=5, what="no VM while paused")
    stack.kubectl("annotate", "ecs", "quiet", "herder.dev/paused-", namespace=namespace)
    wait_ready(stack, namespace, "quiet", timeout=90)
    stack.kubectl("annotate", "ecs", "quiet", "herder.dev/paused=true", namespace=namespace)
    apply(stack, snapshot("snap", "quiet"), namespace=namespace)
    reason_is(stack, "ssnap", "snap", namespace, "Paused")
    assert backend.snapshots(namespace, "quiet") == []
    stack.kubectl("annotate", "ecs", "quiet", "herder.dev/paused-", namespace=namespace)
    ready(stack, "ssnap", "snap", namespace, timeout=60)


def test_kill9_while_snapshotting_takes_one(stack: StackState, backend: Backend, operator: OperatorProcess,
                                           namespace: str) -> None:
    apply(stack, backend.manifest("crash"), namespace=namespace)
    wait_ready(stack, namespace, "crash", timeout=90)
    try:
        apply(stack, snapshot("once", "crash"), namespace=namespace)
        wait_for(lambda: status_of(stack, "ssnap", "once", namespace).get("pendingTask"), timeout=30, interval=0.05,
                 what="the snapshot task recorded")
        operator.kill9()
        backend.settle()
        operator.start()
        status = ready(stack, "ssnap", "once", namespace, timeout=120)
    finally:
        if operator.proc is None:
            operator.start()
    uid = str((get(stack, "ssnap", "once", namespace) or {})["metadata"]["uid"])
    assert [s["id"] for s in mine(backend, namespace, "crash", uid)] == [status["uniqueID"]]
    assert len(backend.snapshots(namespace, "crash")) == 1


def _reverts(backend: Backend, govc: Govc, vm_name: str) -> int:
    if backend.sim is not None:
        return len([j for j in backend.sim.state()["jobs"]
                    if j["cmdlet"].lower() == "restore-scvmcheckpoint" and j["target_name"] == vm_name])
    (path,) = govc("find", "/DC0/vm", "-type", "m", "-name", vm_name).stdout.split()
    # The VM's own task history (not vCenter's 200 recent tasks, which a busy session pushes this one out of).
    history = govc("tasks", "-n", "1000", "-b", "1h", "-json", path).stdout
    tasks = json.loads(history or "{}").get("tasks") or []
    return len([t for t in tasks if t.get("descriptionId") == "VirtualMachine.revertToSnapshot"])


def test_kill9_while_restoring_reverts_once(stack: StackState, backend: Backend, operator: OperatorProcess,
                                           govc: Govc, namespace: str) -> None:
    apply(stack, backend.manifest("back"), snapshot("snap", "back"), namespace=namespace)
    ready(stack, "ssnap", "snap", namespace, timeout=120)
    try:
        apply(stack, restore("undo", "snap"), namespace=namespace)
        wait_for(lambda: (status_of(stack, "ssrestore", "undo", namespace).get("pendingTask") or {}).get(
            "operation") == "revert", timeout=60, interval=0.05, what="the revert task recorded")
        operator.kill9()
        backend.settle()
        operator.start()
        done = ready(stack, "ssrestore", "undo", namespace, timeout=120)
    finally:
        if operator.proc is None:
            operator.start()
    assert done["phase"] == "Completed"
    assert _reverts(backend, govc, f"{namespace}.back") == 1
    wait_ready(stack, namespace, "back", timeout=90)


def test_restore_of_a_missing_snapshot_says_so(stack: StackState, namespace: str, operator: OperatorProcess) -> None:
    apply(stack, restore("nothing", "no-such-snapshot"), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ssrestore", "nothing", namespace, "Ready", "False",
                                           "SnapshotNotFound"), timeout=30, what="SnapshotNotFound")
    assert status["phase"] == "Pending"
    assert conditions(status)["Stalled"]["status"] == "True"


def test_memory_snapshot_is_refused_on_scvmm(stack: StackState, govc: Govc, operator: OperatorProcess,
                                            namespace: str) -> None:
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    backend = Backend("scvmm", stack, govc)
    apply(stack, backend.manifest("mem"), snapshot("with-memory", "mem", memory=True), namespace=namespace)
    refused = reason_is(stack, "ssnap", "with-memory", namespace, "NotSupported", timeout=90)
    assert "memory" in conditions(refused)["Ready"]["message"]
    assert backend.snapshots(namespace, "mem") == []


# -- schedules ---------------------------------------------------------------------------------------------------

def schedule(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ServerSnapshotSchedule", "metadata": {"name": name},
            "spec": {"schedule": "0 * * * *", "template": {"quiesce": False}, "retention": {"keep": 2}} | spec}


def _held(stack: StackState, namespace: str, schedule_name: str) -> list[dict[str, Any]]:
    selected = stack.kubectl("get", "ssnap", "-l", f"herder.dev/schedule={schedule_name}", "-o", "json",
                             namespace=namespace)
    items: list[dict[str, Any]] = json.loads(selected.stdout)["items"]
    return [i for i in items if not i["metadata"].get("deletionTimestamp")]


def _tick(stack: StackState, clock: HerderClock, namespace: str, name: str, moment: datetime) -> None:
    """Move herder's clock to `moment` and wake the schedule (any change to it does)."""
    clock.move_to(moment)
    stack.kubectl("annotate", "--overwrite", "ssched", name, f"e2e/tick={int(moment.timestamp())}",
                  namespace=namespace)


def test_schedule_runs_keeps_and_suspends(stack: StackState, backend: Backend, herder_clock: HerderClock,
                                          operator: OperatorProcess, namespace: str) -> None:
    servers = ("s-a", "s-b")
    apply(stack, *(backend.manifest(s) | {"metadata": {"name": s, "labels": {"app": "nightly"}}} for s in servers),
          namespace=namespace)
    for s in servers:
        wait_ready(stack, namespace, s, timeout=90)
    apply(stack, schedule("hourly", selector={"matchLabels": {"app": "nightly"}}), namespace=namespace)
    first = ready(stack, "ssched", "hourly", namespace)
    assert first["nextScheduleTime"] and not first.get("lastScheduleTime")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    names_by_run: list[set[str]] = []
    for run in range(1, 4):
        moment = hour + timedelta(hours=run, seconds=5)
        _tick(stack, herder_clock, namespace, "hourly", moment)

        def made(moment: datetime = moment) -> list[dict[str, Any]] | None:
            mine_now = [i for i in _held(stack, namespace, "hourly")
                        if i["metadata"]["annotations"]["herder.dev/scheduled-at"]
                        == (moment - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")]
            ok = len(mine_now) == 2 and all((i.get("status") or {}).get("readyToUse") for i in mine_now)
            return mine_now if ok else None

        made_now = wait_for(made, timeout=120, interval=0.5, what=f"run {run}: two ready snapshots")
        names_by_run.append({i["metadata"]["name"] for i in made_now})
        for item in made_now:
            owner = item["metadata"]["ownerReferences"][0]
            assert owner["kind"] == "ServerSnapshotSchedule" and owner["name"] == "hourly"
            assert item["metadata"]["labels"]["herder.dev/server"] in servers
    # Three runs made three snapshots per server; retention keep: 2 leaves the two newest of each.
    wait_for(lambda: len(_held(stack, namespace, "hourly")) == 4, timeout=60, what="retention down to 2 per server")
    kept = {i["metadata"]["name"] for i in _held(stack, namespace, "hourly")}
    assert kept == names_by_run[1] | names_by_run[2]
    for s in servers:
        wait_for(lambda s=s: len(backend.snapshots(namespace, s)) == 2, timeout=60,  # type: ignore[misc]
                 what=f"two backend snapshots of {s}")
    status = status_of(stack, "ssched", "hourly", namespace)
    assert status["lastScheduleTime"] == (hour + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["lastSuccessfulTime"] == status["lastScheduleTime"]
    assert sorted(r["server"] for r in status["servers"]) == list(servers)
    assert all(r["count"] == 2 for r in status["servers"])
    scraped = urllib.request.urlopen(operator.metrics_url, timeout=5).read().decode()
    assert f'herder_snapshots_taken_total{{backend="{backend.kind}",namespace="{namespace}"}}' in scraped
    assert f'herder_snapshot_schedule_interval_seconds{{namespace="{namespace}",schedule="hourly"}} 3600.0' in scraped

    # Suspended: no new snapshots at the next run.
    stack.kubectl("patch", "ssched", "hourly", "--type=merge", "-p", '{"spec":{"suspend":true}}', namespace=namespace)
    wait_for(lambda: condition_is(stack, "ssched", "hourly", namespace, "Ready", "True", "Suspended"), timeout=30,
             what="Suspended")
    _tick(stack, herder_clock, namespace, "hourly", hour + timedelta(hours=4, seconds=5))
    time.sleep(3)
    assert {i["metadata"]["name"] for i in _held(stack, namespace, "hourly")} == kept

    # Deleting the schedule deletes its snapshots, and with them (deletionPolicy Delete) the backend's.
    stack.kubectl("delete", "ssched", "hourly", namespace=namespace)
    wait_for(lambda: _held(stack, namespace, "hourly") == [] and not json.loads(stack.kubectl(
        "get", "ssnap", "-o", "json", namespace=namespace).stdout)["items"], timeout=90, what="its snapshots gone")
    for s in servers:
        wait_for(lambda s=s: backend.snapshots(namespace, s) == [], timeout=60,  # type: ignore[misc]
                 what=f"no backend snapshots of {s}")


def test_schedule_makes_up_for_one_missed_run_only(stack: StackState, herder_clock: HerderClock,
                                                  operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    backend = Backend("vcenter", stack, govc)
    apply(stack, backend.manifest("late"), namespace=namespace)
    wait_ready(stack, namespace, "late", timeout=90)
    apply(stack, schedule("catch-up", server="late", retention={"keep": 10}), namespace=namespace)
    ready(stack, "ssched", "catch-up", namespace)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Five runs were missed (herder "was down"): one snapshot, of the latest.
    _tick(stack, herder_clock, namespace, "catch-up", hour + timedelta(hours=5, minutes=10))
    made = wait_for(lambda: _held(stack, namespace, "catch-up"), timeout=60, what="the catch-up snapshot")
    time.sleep(2)
    made = _held(stack, namespace, "catch-up")
    assert len(made) == 1, [i["metadata"]["name"] for i in made]
    assert made[0]["metadata"]["annotations"]["herder.dev/scheduled-at"] == \
        (hour + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready(stack, "ssnap", made[0]["metadata"]["name"], namespace, timeout=60)


def test_invalid_time_zone_is_reported(stack: StackState, operator: OperatorProcess, namespace: str) -> None:
    apply(stack, schedule("nowhere", server="x", timeZone="Mars/Olympus_Mons"), namespace=namespace)
    status = wait_for(lambda: condition_is(stack, "ssched", "nowhere", namespace, "Ready", "False",
                                           "InvalidSchedule"), timeout=30, what="InvalidSchedule")
    assert "Mars/Olympus_Mons" in conditions(status)["Ready"]["message"]

