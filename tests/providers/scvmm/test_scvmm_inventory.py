"""Drift through the periodic bulk read: one script per interval sees changes made behind herder's back."""

from __future__ import annotations

import threading
import uuid

from scvmm_world import World, wait_for, wait_task

from herder.providers.types import ObservedVM, PowerState, SCVMMPlacement, TaskStatus, VMSpec


def test_inventory_sees_a_vm_stopped_behind_herders_back(world: World) -> None:
    provider = world.provider(inventory_interval=0.3, job_timeout=30.0)
    seen: list[tuple[ObservedVM | None, str]] = []
    lock = threading.Lock()

    def record(server: ObservedVM | None, unique_id: str) -> None:
        with lock:
            seen.append((server, unique_id))

    try:
        # An unmarked VM that the inventory must ignore.
        world.ps("$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
                 "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'other' -VMHostGroup $hg\n"
                 "$null = New-SCVirtualMachine -Name 'other' -VMConfiguration $cfg")
        s = VMSpec(uid=str(uuid.uuid4()), name="web-1", template="ubuntu-22.04-tmpl", cpu=2, memory_mib=2048,
                       placement=SCVMMPlacement(cloud="Cloud-Gold"))
        assert wait_task(provider, provider.vms.create(s)).status == TaskStatus.SUCCEEDED
        server = provider.vms.find(s.uid)
        assert server is not None and server.power == PowerState.ON
        provider.inventory.subscribe(record)
        provider.inventory.start()
        assert wait_for(lambda: provider.inventory.snapshot().get(server.unique_id) == server)
        assert list(provider.inventory.snapshot()) == [server.unique_id]

        world.ps(f"$null = Stop-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{server.unique_id}') -Force")
        # Within a couple of intervals: PoweringOff (busy) while the job runs, then PowerOff.
        stopped = wait_for(lambda: next((s for s, _ in list(seen) if s and s.power == PowerState.OFF and not s.busy),
                                        None), timeout=2.0)
        assert stopped.unique_id == server.unique_id

        world.ps(f"$null = Remove-SCVirtualMachine -VM (Get-SCVirtualMachine -ID '{server.unique_id}')")
        assert wait_for(lambda: (None, server.unique_id) in list(seen), timeout=2.0)
        assert provider.inventory.snapshot() == {}
        # refresh() re-reads one VM at once, into the cache.
        again = VMSpec(uid=str(uuid.uuid4()), name="web-2", template="ubuntu-22.04-tmpl", cpu=1,
                           memory_mib=1024, placement=SCVMMPlacement(host_group="Zone-B"), power=PowerState.OFF)
        ref = provider.vms.create(again)
        assert wait_task(provider, ref).status == TaskStatus.SUCCEEDED
        made = provider.vms.find(again.uid)
        assert made is not None
        assert provider.inventory.refresh(made.ref) == made
        assert provider.inventory.snapshot()[made.unique_id] == made
        provider.vms.release(made)
        assert provider.inventory.refresh(made.ref) is not None
        assert made.unique_id not in provider.inventory.snapshot()  # no longer herder's
    finally:
        provider.close()


def test_inventory_stops_promptly(world: World) -> None:
    import time

    provider = world.provider(inventory_interval=60.0)
    try:
        provider.inventory.start()
        assert wait_for(lambda: "inventory" in provider.endpoint.request_counts())
        started = time.monotonic()
        provider.inventory.stop()
        assert time.monotonic() - started < 5.0
    finally:
        provider.close()


def _one_read(world: World, provider_interval: float = 60.0) -> tuple[int, dict[str, int]]:
    """(WinRM requests, cmdlets) of one bulk read: an inventory started with a long interval reads once."""
    provider = world.provider(inventory_interval=provider_interval)
    try:
        world.admin("POST", "/admin/stats/reset")
        provider.inventory.start()
        assert provider.inventory.wait_synced(10.0)
        return provider.endpoint.request_counts()["inventory"], dict(world.admin("GET", "/admin/stats")["cmdlets"])
    finally:
        provider.close()


def test_one_bulk_read_costs_the_same_whatever_the_number_of_vms(world: World) -> None:
    maker = world.provider(job_timeout=30.0)
    try:
        def make(count: int) -> None:
            for _ in range(count):
                spec = VMSpec(uid=str(uuid.uuid4()), name=f"vm-{uuid.uuid4().hex[:6]}", template="ubuntu-22.04-tmpl",
                              cpu=1, memory_mib=512, placement=SCVMMPlacement(host_group="Zone-B"),
                              power=PowerState.OFF)
                assert wait_task(maker, maker.vms.create(spec)).status == TaskStatus.SUCCEEDED

        make(1)
        one = _one_read(world)
        make(9)
        ten = _one_read(world)
    finally:
        maker.close()
    # Opening the shell (2) and one read (2), and one Get-SCVirtualMachine, for 1 VM as for 10.
    assert one[0] == ten[0] == 4
    assert one[1].get("Get-SCVirtualMachine") == ten[1].get("Get-SCVirtualMachine") == 1
