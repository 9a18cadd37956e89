"""The one daemon loop every kind runs: a pass in a worker thread, status written only when it changed, then
sleep until woken (a change of the object, a dependency, the backend) or until the pass's own delay.

One warm-up rule: right after start-up a missing backend connection is expected, not a failure worth
reporting, so such a pass keeps the status as it is and looks again soon (it is woken on connect anyway).

One rule for short tasks: a pass may mark its status `quiet` (a task it follows is still young). That status
is what the next pass sees, but it is not written; the first status that is not quiet is. A task that ends
quickly then costs one status write, not two; crash safety never rests on the status (a VM is found by its
identity), and the step's Event says at once what started.

One rule for the Kubernetes API going away (a restart, a switch-over): nothing is wrong with the object, so
its status is not touched; a status the pass wants written is kept and written as soon as the API answers
again (tried every KUBERNETES_RETRY_SECONDS at most), before anything else is done, so a task a pass started
is always recorded before the next pass plans.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf

from herder import metrics
from herder.controllers.shared.runtime import Runtime
from herder.controllers.shared.status import publish
from herder.errors import HerderError, KubernetesForbidden, KubernetesUnavailable, ProviderNotReady

WARM_UP_RETRY_SECONDS = 5.0
PROGRESS_PUBLISH_SECONDS = 1.0
KUBERNETES_RETRY_SECONDS = 1.0
# A restarted API server refuses requests until its authorizer has caught up (seconds); a refusal that lasts
# longer is herder's RBAC or an admission policy, and is left to fail where it is logged in full.
FORBIDDEN_WAIT_SECONDS = 60.0
log = logging.getLogger(__name__)
Body = dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """An Event for users that a pass wants posted (after its status is written)."""

    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Pass:
    """What one pass decided: the status it wants, and when to look again (None: only when woken)."""

    status: dict[str, Any]
    delay: float | None
    failed: bool = False  # counted as an error in herder_reconcile_total
    notices: tuple[Notice, ...] = ()
    quiet: bool = False  # the status may stay unwritten until a pass's status is not quiet


@dataclass
class Progress:
    """Shared by a long pass (an import) and the loop: the percentage so far, and a request to stop."""

    percent: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def report(self, percent: int) -> bool:
        self.percent = percent
        return not self.stop.is_set()


Step = Callable[[Body, Progress], Pass]
OnError = Callable[[Body, HerderError], Pass]
ShowProgress = Callable[[dict[str, Any], int], dict[str, Any]]


def deleting(body: Mapping[str, Any]) -> bool:
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


@dataclass(frozen=True)
class Daemon:
    """How one kind's daemon runs. `step` makes one pass over the object (with its status as this daemon last
    wrote it); a HerderError it raises becomes `on_error`'s status, after the warm-up rule."""

    kind: str
    plural: str
    step: Step
    on_error: OnError
    until_deleted: bool = True  # stop when the object is being deleted (its deletion handler takes over)
    events_for: Sequence[str] = ("Ready",)
    show_progress: ShowProgress | None = None  # the status to publish while a long pass reports progress
    after: Callable[[dict[str, Any]], None] | None = None  # with the status as written (metrics)

    async def run(self, body: kopf.Body, uid: str, runtime: Runtime, stopped: kopf.DaemonStopped) -> None:
        # This daemon is the only writer of the status: its own copy is never older than the watched body's,
        # so a pass that starts before our last patch comes back through the watch cannot repeat a step.
        status = dict(body.get("status") or {})
        written = status  # what the API holds, as far as this daemon knows (older while a status is quiet)
        runtime.starting(uid)
        try:
            while not stopped and not (self.until_deleted and deleting(body)):
                started = time.perf_counter()
                outcome, status, written = await self._pass(body, runtime, status, written, stopped)
                metrics.observe_reconcile(self.kind, metrics.RESULT_ERROR if outcome.failed else metrics.RESULT_SUCCESS,
                                          time.perf_counter() - started)
                if self.after is not None:
                    self.after(status)
                await runtime.sleep(uid, outcome.delay, stopped)
        finally:
            runtime.forget(uid)

    async def _pass(self, body: kopf.Body, runtime: Runtime, status: dict[str, Any], written: dict[str, Any],
                    stopped: kopf.DaemonStopped) -> tuple[Pass, dict[str, Any], dict[str, Any]]:
        """One pass; returns its outcome, the status the next pass sees and the status now written."""
        current = {**body, "status": status}
        progress = Progress()
        urgent = bool(status.get("pendingTask"))  # following a task in flight: before passes that start new ones
        work = asyncio.wrap_future(runtime.passes.submit(urgent, self._step, runtime, current, progress))
        shown: int | None = None
        while not work.done():
            await asyncio.wait({work}, timeout=PROGRESS_PUBLISH_SECONDS)
            if stopped or deleting(body):
                progress.stop.set()
            if self.show_progress is not None and progress.percent not in {None, shown} and not work.done():
                shown = progress.percent
                status = written = await self._publish(body, written, self.show_progress(status, shown or 0))
        outcome = work.result()
        if not outcome.quiet:
            written = await self._publish(body, written, outcome.status)
        for notice in outcome.notices:
            kopf.event(body, type=notice.type, reason=notice.reason, message=notice.message[:1000])
        return outcome, (outcome.status if outcome.quiet else written), written

    def _step(self, runtime: Runtime, body: Body, progress: Progress) -> Pass:
        try:
            return self.step(body, progress)
        except HerderError as exc:
            if isinstance(exc, KubernetesUnavailable):
                return Pass(dict(body.get("status") or {}), KUBERNETES_RETRY_SECONDS)
            if isinstance(exc, ProviderNotReady) and runtime.warming_up():
                return Pass(dict(body.get("status") or {}), WARM_UP_RETRY_SECONDS)
            return self.on_error(body, exc)

    async def _publish(self, body: kopf.Body, current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """Write `wanted`; while the Kubernetes API does not answer, keep trying (the object may be deleted
        meanwhile: then there is nothing left to write). A write the API refuses (403) is tried for
        FORBIDDEN_WAIT_SECONDS, then the refusal escapes: Kopf logs it and runs the daemon again later."""
        waited = False
        refused_since: float | None = None
        while True:
            try:
                written = await publish(body, self.plural, current, wanted, events_for=self.events_for)
            except KubernetesUnavailable as exc:
                if isinstance(exc, KubernetesForbidden):
                    refused_since = refused_since if refused_since is not None else time.monotonic()
                    if time.monotonic() - refused_since >= FORBIDDEN_WAIT_SECONDS:
                        raise
                if not waited:
                    log.warning("%s %s: status not written yet, retrying: %s", self.kind,
                                (body.get("metadata") or {}).get("name"), exc)
                waited = True
                await asyncio.sleep(KUBERNETES_RETRY_SECONDS)
                continue
            if waited:
                log.info("%s %s: status written after the Kubernetes API came back", self.kind,
                         (body.get("metadata") or {}).get("name"))
            return written
