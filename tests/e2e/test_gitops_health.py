"""GitOps health of live objects, judged by the tools' own code (cli-utils' kstatus, Argo CD's Lua runtime with
herder's health check) at the points a pipeline cares about, on both backends: before herder has seen an
object, during a create, once Ready, right after a spec change, and for reasons only a person can fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_world import Backend, apply, condition_is, get, patch_spec, wait_for, wait_ready

from herder_dev import health
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

# kstatus' verdict and the Argo CD check's must agree on each of these.
AGREE = {"InProgress": "Progressing", "Current": "Healthy", "Failed": "Degraded"}


def judged(body: dict[str, Any]) -> tuple[str, str]:
    """(kstatus' status, Argo CD's) of one object as the API server returned it; they must agree."""
    (kstatus,), (argocd,) = health.kstatus([body]), health.argocd([body])
    assert AGREE.get(kstatus.status) == argocd.status, f"kstatus {kstatus} vs Argo CD {argocd}"
    return kstatus.status, argocd.status


def live(stack: StackState, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    body = get(stack, kind, name, namespace)
    assert body is not None
    return body


def test_a_server_is_in_progress_until_ready_and_again_after_a_spec_change(stack: StackState, backend: Backend,
                                                                            namespace: str) -> None:
    # As the API server stores it before any controller acted: observed at generation 0.
    created = json.loads(stack.kubectl("create", "-o", "json", "-f", "-", namespace=namespace,
                                       input=json.dumps(backend.manifest("web", cpu=1, memory="1Gi"))).stdout)
    assert judged(created) == ("InProgress", "Progressing")
    creating = wait_for(lambda: (b := live(stack, "ecs", "web", namespace)).get("status", {}).get("conditions")
                        and b, timeout=30, what="herder's first status")
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in creating["status"]["conditions"]):
        assert judged(creating) == ("InProgress", "Progressing")  # a create under way
    wait_ready(stack, namespace, "web", timeout=90)
    assert stack.kubectl("wait", "--for=condition=Ready", "ecs/web", "--timeout=5s",
                         namespace=namespace).returncode == 0
    assert judged(live(stack, "ecs", "web", namespace)) == ("Current", "Healthy")
    # The object as the patch left it, before herder acted on the new generation (a disk added live).
    patched = json.loads(stack.kubectl("patch", "ecs", "web", "--type=merge", "-o", "json", "-p",
                                       json.dumps({"spec": {"disks": {"data": [{"name": "logs", "size": "1Gi"}]}}}),
                                       namespace=namespace).stdout)
    assert judged(patched) == ("InProgress", "Progressing")
    wait_for(lambda: (b := live(stack, "ecs", "web", namespace))["status"].get("observedGeneration")
             == b["metadata"]["generation"] and judged(b) == ("Current", "Healthy"), timeout=90,
             what="Current again at the new generation")


@pytest.mark.parametrize("case", ["PowerCycleRequired", "ImageNotFound"])
def test_what_only_a_person_can_fix_is_failed_at_once(stack: StackState, backend: Backend, namespace: str,
                                                       case: str) -> None:
    if case == "PowerCycleRequired":
        apply(stack, backend.manifest("stuck", cpu=1, memory="1Gi", powerCyclePolicy="Manual"), namespace=namespace)
        wait_ready(stack, namespace, "stuck", timeout=90)
        patch_spec(stack, namespace, "stuck", {"memory": "3Gi"})  # cannot grow while it runs: a person decides
    else:
        apply(stack, backend.manifest("stuck", image={"kind": "Image", "name": "no-such-image"}),
              namespace=namespace)
    waited = stack.kubectl("wait", "--for=condition=Stalled", "ecs/stuck", "--timeout=60s", namespace=namespace,
                           check=False)
    assert waited.returncode == 0, waited.stderr
    status = wait_for(lambda: condition_is(stack, "ecs", "stuck", namespace, "Stalled", "True", case), timeout=10,
                      what=f"Stalled {case}")
    assert any(c["type"] == "Reconciling" and c["status"] == "False" for c in status["conditions"])
    assert judged(live(stack, "ecs", "stuck", namespace)) == ("Failed", "Degraded")


def test_every_kind_of_the_session_is_current_once_ready(stack: StackState, operator: OperatorProcess) -> None:
    """The endpoints, zones and images the suite runs on, judged as they are now."""
    for kind in ("vcenter", "scvmm", "availabilityzone", "clusterimage"):
        items = json.loads(stack.kubectl("get", kind, "-o", "json").stdout)["items"]
        ready = [i for i in items if any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in (i.get("status") or {}).get("conditions") or [])]
        for item in ready:
            assert judged(item) == ("Current", "Healthy"), f"{kind} {item['metadata']['name']}"
