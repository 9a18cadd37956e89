"""herder's Argo CD health check (charts/herder/health/herder.lua) and kstatus on the same objects.

The objects and what each tool should conclude are in health-cases.yaml; both tools run their own code on them
(gopher-lua as Argo CD runs it, cli-utils' kstatus library), through herder_dev.health as the e2e tests do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from herder.api.registry import KINDS
from herder_dev import health, render_manifests
from herder_dev.stack import StackState

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "health-cases.yaml").read_text())["items"]
EXPECT = "expect.herder.dev/"
# kstatus' status and the Argo CD health that says the same.
ARGOCD_FOR_KSTATUS = {"InProgress": "Progressing", "Terminating": "Progressing", "Current": "Healthy",
                      "Failed": "Degraded"}


def _expected(obj: dict[str, Any], key: str) -> str | None:
    value: str | None = obj["metadata"]["annotations"].get(EXPECT + key)
    return value


def _names(results: list[health.Health]) -> list[str]:
    return [r.name for r in results]


@pytest.fixture(scope="module")
def argocd() -> list[health.Health]:
    results = health.argocd(CASES)
    assert _names(results) == [c["metadata"]["name"] for c in CASES]
    return results


@pytest.fixture(scope="module")
def kstatus() -> list[health.Health]:
    results = health.kstatus(CASES)
    assert _names(results) == [c["metadata"]["name"] for c in CASES]
    return results


def test_argocd_health_of_each_case(argocd: list[health.Health]) -> None:
    got = {r.name: r.status for r in argocd}
    assert got == {c["metadata"]["name"]: _expected(c, "argocd") for c in CASES}


def test_kstatus_of_each_case(kstatus: list[health.Health]) -> None:
    got = {r.name: r.status for r in kstatus}
    assert got == {c["metadata"]["name"]: _expected(c, "kstatus") for c in CASES}


def test_argocd_and_kstatus_agree_except_where_explained(argocd: list[health.Health],
                                                         kstatus: list[health.Health]) -> None:
    for case, argo, k in zip(CASES, argocd, kstatus, strict=True):
        agree = ARGOCD_FOR_KSTATUS[k.status] == argo.status
        explained = _expected(case, "kstatus-differs") is not None
        assert agree != explained, (f"{argo.name}: Argo CD {argo.status}, kstatus {k.status}; "
                                    f"{'an explained difference that is not one' if explained else 'unexplained'}")


def test_every_state_is_covered() -> None:
    assert {_expected(c, "argocd") for c in CASES} == {"Healthy", "Progressing", "Degraded", "Suspended"}
    assert {_expected(c, "kstatus") for c in CASES} == set(ARGOCD_FOR_KSTATUS)


@pytest.mark.parametrize("name", ["cloning", "power-cycle-required", "running", "not-ready"])
def test_argocd_message_is_the_deciding_conditions(argocd: list[health.Health], name: str) -> None:
    """Argo CD shows the message of the condition that decided, so its UI says why."""
    case = next(c for c in CASES if c["metadata"]["name"] == name)
    messages = {c["message"] for c in case["status"]["conditions"] if c["message"]}
    assert next(r for r in argocd if r.name == name).message in messages


def test_a_failing_script_is_an_error(tmp_path: Path) -> None:
    """The runner models Argo CD's Lua: no string library, and a script error is reported, not hidden."""
    script = tmp_path / "uses-string.lua"
    script.write_text('return {status = string.lower("HEALTHY")}\n')
    with pytest.raises(health.HealthToolError, match="string"):
        health.argocd(CASES[:1], script)


def test_an_invalid_status_is_unknown(tmp_path: Path) -> None:
    script = tmp_path / "invalid.lua"
    script.write_text('return {status = "Fine", message = "all good"}\n')
    assert [(r.status, r.message) for r in health.argocd(CASES[:1], script)] == [
        ("Unknown", "Lua returned an invalid health status")]


def test_argocd_cm_patch_installs_the_check_for_every_kind(stack: StackState, namespace: str) -> None:
    """The documented install (docs/gitops.md) adds a key per herder kind to argocd-cm and keeps the others."""
    existing = "--from-literal=url=https://argocd.example.com"
    stack.kubectl("create", "configmap", "argocd-cm", existing, namespace=namespace)
    stack.kubectl("patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file",
                  str(render_manifests.ARGOCD_CM_PATCH), namespace=namespace)
    data = json.loads(stack.kubectl("get", "configmap", "argocd-cm", "-o", "json", namespace=namespace).stdout)["data"]
    script = health.ARGOCD_SCRIPT.read_text()
    assert data == {"url": "https://argocd.example.com"} | {
        f"resource.customizations.health.herder.dev_{info.kind}": script for info in KINDS}
