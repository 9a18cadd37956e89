"""The daemon's quiet rule: a pass whose task is still young keeps its status in memory (the next pass sees it)
and writes nothing; the first pass that is not quiet writes everything since the last write, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from herder import kube
from herder.controllers.shared.daemon import Daemon, Pass, Progress
from herder.controllers.shared.runtime import Runtime
from herder.errors import HerderError

Body = dict[str, Any]
BODY: Body = {"metadata": {"name": "web-1", "namespace": "team-a", "uid": "u1"}, "status": {"phase": "Pending"}}


class _Running:
    def __bool__(self) -> bool:
        return False


def _daemon(passes: list[Pass], seen: list[Body]) -> Daemon:
    def step(body: Body, progress: Progress) -> Pass:
        seen.append(dict(body["status"]))
        return passes.pop(0)

    def failed(body: Body, exc: HerderError) -> Pass:
        raise AssertionError(exc)

    return Daemon("ElasticCloudServer", "elasticcloudservers", step, failed, events_for=())


def test_a_quiet_status_is_seen_by_the_next_pass_and_written_with_the_first_loud_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[Body] = []
    monkeypatch.setattr(kube, "patch_status", lambda plural, namespace, name, patch: patches.append(patch))
    creating = {"phase": "Creating", "pendingTask": {"id": "task-1", "operation": "create"}}
    running = {"phase": "Running", "pendingTask": None, "uniqueID": "u1"}
    passes = [Pass(creating, 0.2, quiet=True), Pass(creating, 0.2, quiet=True), Pass(running, None)]
    seen: list[Body] = []
    daemon = _daemon(passes, seen)

    async def three_passes() -> list[tuple[Body, Body]]:
        runtime = Runtime(asyncio.get_running_loop())
        status, written = dict(BODY["status"]), dict(BODY["status"])
        after = []
        for _ in range(3):
            _, status, written = await daemon._pass(BODY, runtime, status, written, _Running())  # type: ignore[arg-type]
            after.append((status, written))
        return after

    after = asyncio.run(three_passes())
    assert seen[1] == creating, "the second pass sees the task the first one started"
    assert after[0] == (creating, {"phase": "Pending"}) and after[1] == (creating, {"phase": "Pending"})
    assert patches == [{"phase": "Running", "uniqueID": "u1"}], "one write, from what was written to the end"
    assert after[2][0] == after[2][1] == {"phase": "Running", "uniqueID": "u1"}


def test_without_quiet_every_change_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[Body] = []
    monkeypatch.setattr(kube, "patch_status", lambda plural, namespace, name, patch: patches.append(patch))
    creating = {"phase": "Creating", "pendingTask": {"id": "task-1", "operation": "create"}}
    daemon = _daemon([Pass(creating, 0.2)], [])

    async def one_pass() -> None:
        runtime = Runtime(asyncio.get_running_loop())
        await daemon._pass(BODY, runtime, dict(BODY["status"]), dict(BODY["status"]), _Running())  # type: ignore[arg-type]

    asyncio.run(one_pass())
    assert patches == [creating]
