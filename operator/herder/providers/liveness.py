"""Whether a backend still answers: the time of its last answer (a reply or a fault; not a transport error),
against how long a healthy one can stay silent. A hung backend and a closed port both go silent; an idle one
does not, because its change feed answers at least once per wait."""

from __future__ import annotations

import time

SILENCE_MARGIN_SECONDS = 10.0


class Liveness:
    def __init__(self, answers_every: float) -> None:
        self._allowed = 2 * answers_every + SILENCE_MARGIN_SECONDS
        self._last = time.monotonic()

    def expect_answers_every(self, seconds: float) -> None:
        """The longest a healthy backend goes without answering is twice this plus a margin."""
        self._allowed = 2 * seconds + SILENCE_MARGIN_SECONDS

    def answered(self) -> None:
        self._last = time.monotonic()

    def unanswered(self) -> float | None:
        """Seconds since the last answer once that is longer than a healthy backend's silence; else None."""
        silent = time.monotonic() - self._last
        return silent if silent > self._allowed else None

    @property
    def allowed_silence(self) -> float:
        return self._allowed
