"""The plan for people: one block per object that changes (or cannot be planned), its spec changes, then herder's
steps in order. Colour on a terminal (not with NO_COLOR set), plain text otherwise."""

from __future__ import annotations

from herder.plan.diff import MAX_VALUE
from herder.plan.model import Action, Do, ObjectPlan, PlanResult, Step

_RESET = "\033[0m"
_COLOURS = {"green": "\033[32m", "yellow": "\033[33m", "red": "\033[31m", "bold red": "\033[1;31m",
            "cyan": "\033[36m", "dim": "\033[2m"}
_ACTIONS = {Action.CREATE: ("+", "green", "will be created"), Action.CHANGE: ("~", "yellow", "will change"),
            Action.DELETE: ("-", "red", "will be deleted"), Action.ERROR: ("!", "bold red", "has problems"),
            Action.NONE: ("=", "dim", "no changes")}
_ADDS = {Do.CREATE, Do.CREATE_SERVER, Do.CREATE_POOL, Do.IMPORT, Do.CAPTURE, Do.TAKE_SNAPSHOT}
_REMOVES = {Do.DESTROY, Do.DELETE_SERVER, Do.DELETE_POOL, Do.DELETE_TEMPLATE, Do.RECREATE, Do.REMOVE_FAILED_CREATE,
            Do.REPLACE_SERVER, Do.REMOVE_SNAPSHOT}


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, colour: str) -> str:
        return f"{_COLOURS[colour]}{text}{_RESET}" if self.colour else text


def _mark(step: Step) -> tuple[str, str]:
    if step.do in _ADDS:
        return "+", "green"
    if step.do in _REMOVES:
        return "-", "red"
    if step.do in {Do.WAIT, Do.BLOCKED}:
        return "*", "cyan"
    return ("~", "yellow") if step.do.changes_backend else ("=", "dim")


def _short(value: str | None) -> str:
    if value is None:
        return "(unset)"
    lines = value.strip().splitlines()
    if len(lines) > 1:
        return f"({len(lines)} lines)"
    return value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 3] + "..."


def _object(entry: ObjectPlan, paint: _Paint) -> list[str]:
    sign, colour, words = _ACTIONS[entry.action]
    where = f" ({entry.source})" if entry.source else ""
    lines = [paint(f"{sign} {entry.label} {words}", colour) + paint(where, "dim")]
    for change in entry.spec_changes:
        lines.append(f"      {change.what}: {_short(change.before)} -> {_short(change.after)}")
    for step in entry.steps:
        mark, step_colour = _mark(step)
        text = f"    {mark} {step.do.value}: {step.summary}"
        lines.append(paint(text, step_colour) + (" " + paint("[DATA LOSS]", "bold red") if step.data_loss else ""))
    lines += [paint(f"    ! {problem.reason}: {problem.message}", "bold red") for problem in entry.problems]
    lines += [paint(f"    note: {note}", "dim") for note in entry.notes]
    return lines


def render(result: PlanResult, *, colour: bool) -> str:
    paint = _Paint(colour)
    errors = result.count(Action.ERROR) + len(result.errors)
    head = (f"herder plan: {result.count(Action.CREATE)} to create, {result.count(Action.CHANGE)} to change, "
            f"{result.count(Action.DELETE)} to delete, {result.count(Action.NONE)} unchanged, {errors} error"
            f"{'' if errors == 1 else 's'}")
    lines = [head]
    requests = ", ".join(f"{backend} {sum(counts.values())}" for backend, counts in sorted(
        result.backend_requests.items()))
    validation = "validated by the API server (dry run)" if result.server_side_validation else \
        (result.validation_note or "validated by herder's schema")
    lines.append(paint(f"({validation}; backend requests, all reads: {requests or 'none'})", "dim"))
    for problem in result.errors:
        lines.append(paint(f"! {problem.reason}: {problem.message}", "bold red"))
    for entry in result.objects:
        if entry.action is Action.NONE and not entry.steps and not entry.notes:
            continue
        lines += ["", *_object(entry, paint)]
    if result.ignored:
        lines += ["", paint(f"{len(result.ignored)} object(s) that are not herder's were left out: "
                            + ", ".join(result.ignored), "dim")]
    return "\n".join(lines) + "\n"
