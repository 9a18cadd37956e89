"""What every kind's planning reads: the planned world, the backends (reads only), and which objects the
input itself creates or changes. And how a failure to follow a reference reads in a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from herder.controllers.shared.runtime import Backends
from herder.errors import HerderError, ProviderNotReady
from herder.plan.model import Change, Do, Problem, Step
from herder.plan.world import Key, World
from herder.providers.types import EndpointInfo
from herder.reasons import Health, Reason
from herder.reconcile.narrate import Told

# Waiting for another object to be made or to finish something: the operator waits, and so does the plan.
_WAITS = frozenset({Reason.IMAGE_NOT_READY, Reason.RESOURCE_POOL_NOT_READY, Reason.PARENT_NOT_READY,
                    Reason.SERVER_NOT_READY, Reason.SERVER_BUSY})


class Connections(Backends, Protocol):
    """Backends as a plan uses them (`herder.plan.backends.PlanBackends`): reads only, and what connecting to
    each endpoint found."""

    @property
    def info(self) -> dict[tuple[str, str], EndpointInfo]:
        """What each connected endpoint said of itself."""
        ...

    def failure(self, kind: str, name: str) -> HerderError | None:
        """Why connecting to an endpoint failed; None if it did not (or was not tried)."""
        ...


@dataclass
class Context:
    world: World
    backends: Connections
    planned: set[Key] = field(default_factory=set)  # the input's objects


@dataclass
class Outcome:
    steps: list[Step] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def unresolved(exc: HerderError) -> Outcome:
    """A pass that stops before its plan: a Wait step when herder would wait (for an image being imported, a
    pool being made...), a problem otherwise (a reference that does not resolve, a backend the plan cannot
    read, what the backend does not support)."""
    if not isinstance(exc, ProviderNotReady) and (exc.reason in _WAITS or exc.reason.health is Health.PROGRESS):
        return Outcome(steps=[Step(Do.WAIT, f"waits: {exc}", reason=exc.reason.value)])
    return Outcome(problems=[Problem(exc.reason.value, str(exc))])


def told_step(said: Told) -> Step:
    """A step in the words the operator's Event for it uses (`reconcile.narrate`)."""
    return Step(Do(said.do), said.summary, tuple(Change(*c) for c in said.changes), said.data_loss,
                details=dict(said.details))
