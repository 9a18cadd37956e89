"""/metrics during a real run: parsed with prometheus-client's own parser, values match what happened."""

from __future__ import annotations

import time
import urllib.request

from e2e_world import Backend, apply, ecs_manifest, wait_for, wait_ready
from prometheus_client.parser import text_string_to_metric_families

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


def scrape(operator: OperatorProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == metric and wanted <= ls)


def test_metrics_follow_a_real_run(stack: StackState, backend: Backend, operator: OperatorProcess,
                                   namespace: str) -> None:
    provider, zone = backend.kind, backend.zone
    # What one create costs the backend: a CloneVM_Task call (vCenter); a create script's Send and Receive (SCVMM).
    create_op, per_create = ("create", 2) if backend.scvmm else ("Clone", 1)
    before = scrape(operator)
    apply(stack, backend.manifest("metered-1", cpu=1), backend.manifest("metered-2", cpu=1), namespace=namespace)
    for name in ("metered-1", "metered-2"):
        wait_ready(stack, namespace, name, timeout=90)
    after = scrape(operator)

    # Creates counted: two creates and at least two successful reconciles more than before.
    creates = total(after, "herder_backend_requests_total", provider=provider, operation=create_op) - total(
        before, "herder_backend_requests_total", provider=provider, operation=create_op)
    assert creates == 2 * per_create, creates
    reconciles = total(after, "herder_reconcile_total", kind="ElasticCloudServer", result="success")
    assert reconciles - total(before, "herder_reconcile_total", kind="ElasticCloudServer", result="success") >= 2
    assert total(after, "herder_backend_up", kind=backend.provider["kind"], name=backend.provider["name"]) == 1
    assert total(after, "herder_ecs", namespace=namespace, phase="Running", power_state="On", zone=zone) == 2
    assert total(after, "herder_ecs_ready", namespace=namespace) == 2

    # Metering rises while the servers run: 1 vCPU and 2 GiB each, accrued per second.
    first = total(after, "herder_ecs_vcpu_seconds_total", namespace=namespace, zone=zone)
    time.sleep(2)
    later = scrape(operator)
    second = total(later, "herder_ecs_vcpu_seconds_total", namespace=namespace, zone=zone)
    assert second - first >= 2 * 1.5  # two 1-vCPU servers for ~2 s
    memory_rate = (total(later, "herder_ecs_memory_byte_seconds_total", namespace=namespace, zone=zone)
                   - total(after, "herder_ecs_memory_byte_seconds_total", namespace=namespace, zone=zone))
    assert memory_rate >= 2 * 2 * 2**30 * 1.5

    # Stopped servers stop accruing vCPU time.
    for name in ("metered-1", "metered-2"):
        stack.kubectl("patch", "ecs", name, "--type", "merge", "-p", '{"spec":{"powerState":"Off"}}',
                      namespace=namespace)
    wait_for(lambda: total(scrape(operator), "herder_ecs", namespace=namespace, power_state="Off") == 2,
             timeout=60, what="both servers Off")
    stopped_at = total(scrape(operator), "herder_ecs_vcpu_seconds_total", namespace=namespace, zone=zone)
    time.sleep(2)
    assert total(scrape(operator), "herder_ecs_vcpu_seconds_total", namespace=namespace, zone=zone) \
        - stopped_at < 0.5


def test_metering_is_exact_across_an_operator_stop(stack: StackState, operator: OperatorProcess,
                                                    namespace: str) -> None:
    """What a namespace is billed carries on across a restart, and the time herder was down is billed too: a
    running 2-vCPU server accrues 2 vCPU-seconds per second whether herder watches or not; a deleted server's
    use stays in its namespace's total."""
    apply(stack, ecs_manifest("billed", cpu=2), ecs_manifest("gone", cpu=1), namespace=namespace)
    for name in ("billed", "gone"):
        wait_ready(stack, namespace, name)
    time.sleep(2)
    stack.kubectl("delete", "ecs", "gone", "--wait=true", namespace=namespace)

    def billed() -> tuple[float, float]:
        """(vCPU-seconds of the namespace, when read)."""
        value = total(scrape(operator), "herder_ecs_vcpu_seconds_total", namespace=namespace, zone="dc0-c0")
        return value, time.time()

    first, at_first = billed()
    assert first > 2.0  # the deleted server's seconds are in it
    operator.stop()
    time.sleep(30)
    operator.start()
    # After the restart the namespace's total comes back once its servers' records are read again.
    (second, at_second) = wait_for(lambda: (b := billed())[0] > first and b, timeout=60, what="metering back")
    expected = 2 * (at_second - at_first)
    print(f"billed {second - first:.1f} vCPU-s over {at_second - at_first:.1f}s with a 30s operator stop "
          f"(expected {expected:.1f})")
    assert abs((second - first) - expected) < 2 * 1.0  # within a second of the one running server
