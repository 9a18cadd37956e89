"""The inventory watch: one WaitForUpdatesEx outstanding, changes seen within seconds, nothing else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vcsim_world import Vcsim

from herder.providers.types import ObservedVM, PowerState


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_watch_sees_power_and_destroy_and_is_quiet(vcsim: Vcsim) -> None:
    vcsim.govc(
        "vm.create",
        "-on=true",
        "-c",
        "1",
        "-m",
        "256",
        "-net",
        "VM Network",
        "-pool",
        "/DC0/host/DC0_C0/Resources",
        "-ds",
        "LocalDS_0",
        "watched",
    )
    watched_uuid = vcsim.vm_info("watched")["config"]["instanceUuid"]
    p = vcsim.provider(keepalive_seconds=None, max_wait_seconds=5)
    events: list[tuple[ObservedVM | None, str]] = []
    lock = threading.Lock()

    def record(server: ObservedVM | None, unique_id: str) -> None:
        with lock:
            events.append((server, unique_id))

    p.inventory.subscribe(record)
    p.inventory.start()
    try:
        _eventually(lambda: watched_uuid in p.inventory.snapshot())
        assert p.inventory.snapshot()[watched_uuid].power == PowerState.ON
        template_uuid = vcsim.vm_info("tmpl")["config"]["instanceUuid"]
        assert template_uuid not in p.inventory.snapshot()

        # Steady state: over 3 idle seconds only the long poll (at most one return per max wait) runs.
        time.sleep(0.5)
        before = p.endpoint.request_counts()
        time.sleep(3)
        during = {op: n - before.get(op, 0) for op, n in p.endpoint.request_counts().items()}
        assert {op: n for op, n in during.items() if n} in ({}, {"WaitForUpdatesEx": 1})

        vcsim.govc("vm.power", "-off", "watched")
        _eventually(lambda: p.inventory.snapshot()[watched_uuid].power == PowerState.OFF, timeout=5)
        vcsim.govc("vm.destroy", "watched")
        _eventually(lambda: watched_uuid not in p.inventory.snapshot(), timeout=5)
        with lock:
            assert (None, watched_uuid) in events
    finally:
        p.close()


def test_watch_survives_session_loss(vcsim: Vcsim) -> None:
    p = vcsim.provider(keepalive_seconds=None, max_wait_seconds=5)
    p.inventory.start()
    try:
        assert p.inventory.wait_synced(10)
        key = p.endpoint.content.sessionManager.currentSession.key
        vcsim.govc("session.rm", key)
        vcsim.govc(
            "vm.create",
            "-on=false",
            "-c",
            "1",
            "-m",
            "256",
            "-net",
            "VM Network",
            "-pool",
            "/DC0/host/DC0_C0/Resources",
            "-ds",
            "LocalDS_0",
            "after-loss",
        )
        new_uuid = vcsim.vm_info("after-loss")["config"]["instanceUuid"]
        _eventually(lambda: new_uuid in p.inventory.snapshot(), timeout=30)
        # The next call on the dead session logs in again by itself (the watch may or may not have needed to).
        assert p.endpoint.info().instance_uuid
        assert p.endpoint.request_counts()["Login"] >= 2
    finally:
        p.close()
        vcsim.govc("vm.destroy", "after-loss")
