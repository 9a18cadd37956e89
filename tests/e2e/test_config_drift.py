"""Configuration changed behind herder's back, on both backends: CPU, memory and a data disk are brought back to
the spec within the backend's drift bound (vCenter: its change feed; SCVMM: one bulk read), with an Event that
names what changed; and status shows what is observed, never the spec as a fact."""

from __future__ import annotations

import json
import time
from typing import Any

from e2e_world import GIB, Backend, annotate, apply, condition_is, wait_for, wait_ready

from herder_dev.stack import StackState


def _resize_out_of_band(backend: Backend, namespace: str, name: str, cpu: int, memory_mib: int) -> None:
    full = f"{namespace}.{name}"
    if backend.sim is not None:
        backend.sim.run_ps(f"$null = Set-SCVirtualMachine -VM (Get-SCVirtualMachine -Name '{full}') "
                           f"-CPUCount {cpu} -MemoryMB {memory_mib}")
    else:
        backend.govc("vm.change", "-vm", full, "-c", str(cpu), "-m", str(memory_mib))


def _remove_data_disk_out_of_band(backend: Backend, namespace: str, name: str) -> None:
    full = f"{namespace}.{name}"
    if backend.sim is not None:
        backend.sim.run_ps(f"$v = Get-SCVirtualMachine -Name '{full}'\n"
                           "$d = @(Get-SCVirtualDiskDrive -VM $v | Where-Object { $_.BusType -eq 'SCSI' "
                           "-and $_.LUN -gt 0 })[0]\n$null = Remove-SCVirtualDiskDrive -VirtualDiskDrive $d")
    else:
        devices = json.loads(backend.govc("device.info", "-vm", full, "-json").stdout)["devices"]
        disks = sorted((d for d in devices if d["type"] == "VirtualDisk"), key=lambda d: d["key"])
        backend.govc("device.remove", "-vm", full, disks[-1]["name"])


def _drift_events(stack: StackState, namespace: str, name: str) -> list[str]:
    items: list[dict[str, Any]] = json.loads(stack.kubectl("get", "events", "-o", "json",
                                                           namespace=namespace).stdout)["items"]
    return [e["message"] for e in items if e["involvedObject"]["name"] == name and e["reason"] == "Drift"]


def test_cpu_memory_and_disk_drift_is_corrected_and_named(stack: StackState, backend: Backend,
                                                           namespace: str) -> None:
    apply(stack, backend.manifest("drifty", cpu=1, memory="1Gi", powerState="Off",
                                  disks={"data": [{"name": "logs", "size": "2Gi"}]}), namespace=namespace)
    wait_ready(stack, namespace, "drifty", timeout=90)
    vm = backend.vm(namespace, "drifty")
    assert vm is not None and 2 * GIB in vm["disks"]

    _resize_out_of_band(backend, namespace, "drifty", 3, 3072)
    changed = time.monotonic()
    wait_for(lambda: (v := backend.vm(namespace, "drifty")) is not None and (v["cpu"], v["memory_mib"]) == (1, 1024),
             timeout=backend.drift_bound, interval=0.2, what=f"{backend}: CPU and memory back to the spec")
    print(f"{backend}: CPU and memory drift corrected in {time.monotonic() - changed:.1f}s")
    messages = wait_for(lambda: _drift_events(stack, namespace, "drifty"), timeout=10, what="a Drift Event")
    assert any("CPU 1 -> 3 (spec 1)" in m and "memory 1Gi -> 3Gi (spec 1Gi)" in m for m in messages), messages

    _remove_data_disk_out_of_band(backend, namespace, "drifty")
    removed = time.monotonic()
    wait_for(lambda: (v := backend.vm(namespace, "drifty")) is not None and 2 * GIB in v["disks"],
             timeout=backend.drift_bound, interval=0.2, what=f"{backend}: the data disk back")
    print(f"{backend}: data disk drift corrected in {time.monotonic() - removed:.1f}s")
    wait_for(lambda: any("disks" in m for m in _drift_events(stack, namespace, "drifty")), timeout=10,
             what="a Drift Event naming the disks")
    wait_ready(stack, namespace, "drifty", timeout=30)


def test_status_shows_the_observed_size_while_it_differs(stack: StackState, backend: Backend,
                                                          namespace: str) -> None:
    """A paused server is left as it is: status says what is there and never claims it matches the spec."""
    apply(stack, backend.manifest("held", cpu=1, memory="1Gi", powerState="Off"), namespace=namespace)
    wait_ready(stack, namespace, "held", timeout=90)
    annotate(stack, namespace, "held", paused="true")
    wait_for(lambda: condition_is(stack, "ecs", "held", namespace, "Paused", "True"), timeout=30, what="paused")
    _resize_out_of_band(backend, namespace, "held", 2, 1024)
    status = wait_for(lambda: (s := condition_is(stack, "ecs", "held", namespace, "ConfigSynced", "False"))
                      and s["cpu"] == 2 and s, timeout=backend.drift_bound, what="the observed CPU, not in sync")
    assert status["cpu"] == 2 and status["memory"] == "1Gi"  # observed, not the spec's 1 vCPU
    annotate(stack, namespace, "held", paused=None)
    wait_for(lambda: (v := backend.vm(namespace, "held")) is not None and v["cpu"] == 1,
             timeout=backend.drift_bound, what="corrected once resumed")
    assert wait_ready(stack, namespace, "held", timeout=30)["cpu"] == 1
