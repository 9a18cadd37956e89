"""Backend drift wakes the ECS that manages the VM, also when the VM's identity is not the ECS's UID."""

from __future__ import annotations

import asyncio

from herder.controllers.shared.runtime import Runtime
from herder.providers.types import ObservedVM, PowerState

ECS = "ecs-uid"
ADOPTED = "4211aaaa-0000-4000-8000-000000000001"


def _vm(owner: str | None) -> ObservedVM:
    return ObservedVM(unique_id=ADOPTED, ref="vm-1", name="adopted", power=PowerState.OFF, cpu=1,
                          memory_mib=1024, owner_uid=owner)


async def _woken(runtime: Runtime, change: ObservedVM | None) -> bool:
    """Whether ECS's daemon, asleep, is woken by `change` to the adopted VM (reported from another thread)."""
    sleeper = asyncio.ensure_future(runtime.sleep(ECS, 2.0, asyncio.Event()))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await asyncio.to_thread(runtime.on_inventory_change, change, ADOPTED)
    done, _ = await asyncio.wait({sleeper}, timeout=0.5)
    sleeper.cancel()
    return bool(done)


def test_an_adopted_vm_wakes_its_ecs_by_the_identity_it_recorded_even_without_the_mark() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        runtime = Runtime(asyncio.get_running_loop())
        unrouted = await _woken(runtime, _vm(owner=None))  # neither the mark nor a recorded identity
        by_mark = await _woken(runtime, _vm(owner=ECS))
        runtime.record_identity(ECS, ADOPTED)
        by_identity = await _woken(runtime, _vm(owner=None))  # a stale watch value lost the mark
        runtime.forget(ECS)
        forgotten = await _woken(runtime, None)
        return unrouted, by_mark, by_identity, forgotten

    assert asyncio.run(scenario()) == (False, True, True, False)


def test_recording_another_identity_drops_the_old_route() -> None:
    async def scenario() -> tuple[bool, bool]:
        runtime = Runtime(asyncio.get_running_loop())
        runtime.record_identity(ECS, ADOPTED)
        runtime.record_identity(ECS, ECS)  # recreated: a VM of its own, whose identity is the ECS's UID
        old = await _woken(runtime, None)
        runtime.record_identity(ECS, ADOPTED)
        return old, await _woken(runtime, None)

    assert asyncio.run(scenario()) == (False, True)


def test_a_dependency_that_changes_during_a_daemons_first_pass_wakes_its_first_sleep() -> None:
    """A pool waiting for its parent (no delay: only a wake-up moves it on) must not sleep through the parent's
    change that came while its first pass ran."""
    async def scenario() -> bool:
        runtime = Runtime(asyncio.get_running_loop())
        runtime.starting(ECS)
        runtime.wake_all()  # during the first pass, before the daemon sleeps
        await asyncio.sleep(0)
        sleeper = asyncio.ensure_future(runtime.sleep(ECS, 2.0, asyncio.Event()))  # type: ignore[arg-type]
        done, _ = await asyncio.wait({sleeper}, timeout=0.5)
        sleeper.cancel()
        return bool(done)

    assert asyncio.run(scenario())
