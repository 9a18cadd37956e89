"""A status write the Kubernetes API refuses (403): waited out for a while, as a just-restarted API server refuses
requests until its authorizer catches up; a refusal that lasts is left to fail (Kopf logs it in full)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from herder import kube
from herder.controllers.shared import daemon as daemon_module
from herder.controllers.shared.daemon import Daemon, Pass, Progress
from herder.errors import HerderError, KubernetesForbidden

BODY: dict[str, Any] = {"metadata": {"name": "zone-a", "uid": "u1"}, "status": {"phase": "Pending"}}


def _daemon() -> Daemon:
    def step(body: dict[str, Any], progress: Progress) -> Pass:
        raise AssertionError("not called")

    def failed(body: dict[str, Any], exc: HerderError) -> Pass:
        raise AssertionError(exc)

    return Daemon("AvailabilityZone", "availabilityzones", step, failed, events_for=())


def _refusing(times: int, patches: list[dict[str, Any]]) -> Any:
    def patch(plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> None:
        if len(patches) < times:
            patches.append({})
            raise KubernetesForbidden("the Kubernetes API refused the status write: forbidden")
        patches.append(status)
    return patch


@pytest.fixture(autouse=True)
def _no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon_module, "KUBERNETES_RETRY_SECONDS", 0.0)


def test_a_refusal_for_a_moment_is_waited_out_and_the_status_written(monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[dict[str, Any]] = []
    monkeypatch.setattr(kube, "patch_status", _refusing(3, patches))
    written = asyncio.run(_daemon()._publish(BODY, {"phase": "Pending"}, {"phase": "Ready"}))  # type: ignore[arg-type]
    assert written == {"phase": "Ready"}
    assert patches[-1] == {"phase": "Ready"} and len(patches) == 4


def test_a_refusal_that_lasts_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[dict[str, Any]] = []
    monkeypatch.setattr(kube, "patch_status", _refusing(10**6, patches))
    monkeypatch.setattr(daemon_module, "FORBIDDEN_WAIT_SECONDS", 0.05)
    with pytest.raises(KubernetesForbidden):
        asyncio.run(_daemon()._publish(BODY, {"phase": "Pending"}, {"phase": "Ready"}))  # type: ignore[arg-type]
    assert len(patches) > 1  # tried again before giving up
