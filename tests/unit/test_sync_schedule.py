"""ServerSnapshotSchedule passes with the Kubernetes stand-in and a clock the test sets: a run creates owned,
labelled ServerSnapshots named after it, once; retention deletes only the schedule's own, oldest first; the
daemon sleeps until the next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.harness import NAMESPACE, Body, Harness, advance, reason, server
from fakes.kube import FakeKube
from herder.api.metadata import API_VERSION
from herder.controllers.schedule.sync import sync_schedule

SNAPSHOTS = "serversnapshots"
CREATED = datetime(2030, 1, 1, 0, 0, 10, tzinfo=UTC)


def schedule(**spec: Any) -> Body:
    return {"apiVersion": API_VERSION, "kind": "ServerSnapshotSchedule",
            "metadata": {"name": "nightly", "namespace": NAMESPACE, "uid": "sched-uid", "generation": 1,
                         "creationTimestamp": "2030-01-01T00:00:10Z"},
            "spec": {"schedule": "0 * * * *", "selector": {"matchLabels": {"app": "web"}}, "template": {
                "quiesce": True}, "retention": {"keep": 2}} | spec}


def run(harness: Harness, kube: FakeKube, body: Body, at: datetime) -> tuple[Body, float | None]:
    result = sync_schedule(harness.runtime, body, harness.lookups, lambda: at)
    for made in kube.objects.values():  # what the snapshot index would show
        if (made.get("status") or {}).get("readyToUse") is None:
            made["status"] = {"readyToUse": True}
        harness.index(made | {"kind": "ServerSnapshot"})
    for key in [k for k in harness.indexes["snapshots"] if (SNAPSHOTS, *k) not in kube.objects]:
        harness.unindex({"kind": "ServerSnapshot", "metadata": {"namespace": key[0], "name": key[1]}})
    return advance(body, result), result.delay


def test_runs_create_owned_snapshots_once_and_retention_keeps_two(harness: Harness, kube: FakeKube) -> None:
    for name, labels in (("web-1", {"app": "web"}), ("web-2", {"app": "web"}), ("db", {"app": "db"})):
        harness.index(server(name) | {"metadata": {"name": name, "namespace": NAMESPACE, "uid": name,
                                                   "labels": labels}})
    body, delay = run(harness, kube, schedule(), CREATED + timedelta(minutes=30))
    assert kube.objects == {} and delay is not None and 1790 <= delay <= 1800, "sleeps until 01:00"
    assert reason(body["status"]) == "Ready" and body["status"]["nextScheduleTime"] == "2030-01-01T01:00:00Z"
    for hour in (1, 2, 3):
        body, _ = run(harness, kube, body, CREATED.replace(second=0) + timedelta(hours=hour, seconds=2))
    # Retention counts a run's snapshots once they are ready: the pass their readiness wakes.
    body, _ = run(harness, kube, body, CREATED.replace(second=0) + timedelta(hours=3, seconds=5))
    names = sorted(name for (_, _, name) in kube.objects)
    assert names == ["nightly-web-1-203001010200", "nightly-web-1-203001010300", "nightly-web-2-203001010200",
                     "nightly-web-2-203001010300"]
    made = kube.get(SNAPSHOTS, NAMESPACE, "nightly-web-1-203001010300")
    assert made is not None
    assert made["metadata"]["ownerReferences"][0] | {} == {
        "apiVersion": API_VERSION, "kind": "ServerSnapshotSchedule", "name": "nightly", "uid": "sched-uid",
        "controller": True, "blockOwnerDeletion": True}
    assert made["metadata"]["labels"] == {"herder.dev/schedule": "nightly", "herder.dev/server": "web-1"}
    assert made["spec"] == {"server": "web-1", "memory": False, "quiesce": True, "deletionPolicy": "Delete"}
    assert body["status"]["lastScheduleTime"] == "2030-01-01T03:00:00Z"
    assert body["status"]["servers"][0] == {"server": "web-1", "count": 2, "snapshots": [
        "nightly-web-1-203001010300", "nightly-web-1-203001010200"]}
    creates = [c for c in kube.calls if c[0] == "create"]
    assert len(creates) == 6
    run(harness, kube, body, CREATED.replace(second=0) + timedelta(hours=3, seconds=30))
    assert [c for c in kube.calls if c[0] == "create"] == creates, "a run is made once"


def test_retention_leaves_snapshots_it_did_not_make(harness: Harness, kube: FakeKube) -> None:
    harness.index(server("web-1") | {"metadata": {"name": "web-1", "namespace": NAMESPACE, "uid": "w",
                                                  "labels": {"app": "web"}}})
    kube.put(SNAPSHOTS, {"apiVersion": API_VERSION, "kind": "ServerSnapshot", "metadata": {
        "name": "by-hand", "namespace": NAMESPACE, "uid": "h", "labels": {"herder.dev/schedule": "nightly"}},
        "spec": {"server": "web-1"}, "status": {"readyToUse": True}})
    body = schedule(retention={"keep": 1})
    for hour in (1, 2, 3):
        body, _ = run(harness, kube, body, CREATED.replace(second=0) + timedelta(hours=hour, seconds=2))
    run(harness, kube, body, CREATED.replace(second=0) + timedelta(hours=3, seconds=5))
    assert sorted(name for (_, _, name) in kube.objects) == ["by-hand", "nightly-web-1-203001010300"]
