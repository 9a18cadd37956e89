"""vCenter tasks: read one as a TaskResult, or wait for a short one. Shared by VMs and images."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import ProviderError
from herder.providers.types import TaskRef, TaskResult, TaskStatus
from herder.providers.vcenter.errors import fault_message
from herder.providers.vcenter.session import Session

_Task: Any = vim.Task


def read(session: Session, task: TaskRef, on_error: Callable[[Any], TaskResult | None] = lambda info: None,
         on_success: Callable[[str | None], None] = lambda ref: None) -> TaskResult:
    """The task's state. `on_error(info)` may reinterpret a failure; `on_success(ref)` sees the result."""
    if task.finished:
        return task.finished_result()

    def run() -> TaskResult:
        try:
            info = _Task(task.id, session.stub).info
        except vmodl.fault.ManagedObjectNotFound:
            return TaskResult(status=TaskStatus.UNKNOWN)  # vCenter has forgotten it: plan from what is there
        if info.state == "success":
            result = info.result
            ref = str(result._moId) if isinstance(result, vim.ManagedEntity) else None
            on_success(ref)
            return TaskResult(status=TaskStatus.SUCCEEDED, result_ref=ref)
        if info.state == "error":
            reinterpreted = on_error(info)
            if reinterpreted is not None:
                return reinterpreted
            # pyVmomi folds LocalizedMethodFault into the fault itself: `error` is the fault, its text in `msg`.
            message = fault_message(info.error) if info.error else None
            return TaskResult(status=TaskStatus.FAILED, error=message or "the vCenter task failed")
        return TaskResult(status=TaskStatus.RUNNING)

    return session.call(f"read {task.operation} task {task.id}", run)


def wait(task: Any, action: str, timeout: float) -> None:
    """Poll one short task to its end. A power-off of a VM that is already off counts as done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = task.info
        if info.state == "success":
            return
        if info.state == "error":
            if isinstance(info.error, vim.fault.InvalidPowerState):
                return
            raise ProviderError(f"{action}: {fault_message(info.error)}")
        time.sleep(0.3)
    raise ProviderError(f"{action}: vCenter did not finish within {timeout:.0f}s")
