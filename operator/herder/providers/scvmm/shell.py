"""One long-lived `powershell -Command -` process on the WinRM host, fed scripts on stdin.

A new shell per script (pywinrm's run_ps) costs Create, Command, Receive, Signal and Delete for every call
and passes the script on a command line capped at 8191 characters. Here the shell and the PowerShell
process stay open: a script costs one Send plus one or a few Receives, and may be of any length. Variables
persist between scripts, so each script is written to set everything it reads.

Every WinRM request is counted by operation and reported to the request hook.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from winrm.exceptions import WinRMOperationTimeoutError
from winrm.protocol import Protocol

from herder.errors import ProviderError
from herder.providers.liveness import Liveness
from herder.reasons import Reason

log = logging.getLogger(__name__)

RequestHook = Callable[[str, bool, float], None]
_POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-Command", "-")


class Meter:
    """WinRM requests per operation, shared by all shells of one provider. Thread-safe."""

    def __init__(self, hook: RequestHook | None, liveness: Liveness) -> None:
        self._hook = hook
        self.liveness = liveness
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._local = threading.local()

    @contextlib.contextmanager
    def operation(self, name: str) -> Iterator[None]:
        previous = getattr(self._local, "name", None)
        self._local.name = name
        try:
            yield
        finally:
            self._local.name = previous

    def record(self, ok: bool, seconds: float) -> None:
        if ok:
            self.liveness.answered()
        name = getattr(self._local, "name", None) or "other"
        with self._lock:
            self._counts[name] += 1
        if self._hook is not None:
            try:
                self._hook(name, ok, seconds)
            except Exception:
                log.exception("SCVMM request hook failed")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class _MeteredProtocol(Protocol):
    """pywinrm's Protocol, reporting every request (a Receive that long-polled to its timeout included)."""

    def __init__(self, meter: Meter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._meter = meter

    def send_message(self, message: str) -> bytes:
        started = time.monotonic()
        ok = False
        try:
            reply = super().send_message(message)
            ok = True
            return reply
        except WinRMOperationTimeoutError:
            ok = True  # the normal end of a long poll with nothing to say
            raise
        finally:
            self._meter.record(ok, time.monotonic() - started)


class ShellBroken(ProviderError):
    """The PowerShell process ended or stopped answering; the next script gets a new shell."""

    reason = Reason.UNREACHABLE


class PowerShell:
    """The stdin-fed PowerShell process; one script at a time. Reopened after any failure."""

    def __init__(self, meter: Meter, protocol_options: dict[str, Any]) -> None:
        self._meter = meter
        self._options = protocol_options
        self._lock = threading.Lock()
        self._protocol: _MeteredProtocol | None = None
        self._shell_id: str | None = None
        self._command_id: str | None = None

    def _open(self) -> tuple[_MeteredProtocol, str, str]:
        if self._protocol is None or self._shell_id is None or self._command_id is None:
            protocol = _MeteredProtocol(self._meter, **self._options)
            shell_id = protocol.open_shell(codepage=65001)
            try:
                command_id = protocol.run_command(
                    shell_id, "powershell", _POWERSHELL_ARGS, console_mode_stdin=False, skip_cmd_shell=True
                )
            except Exception:
                self._close_quietly(protocol, shell_id)
                raise
            self._protocol, self._shell_id, self._command_id = protocol, shell_id, command_id
        return self._protocol, self._shell_id, self._command_id

    def run(self, build: Callable[[str], str], timeout: float) -> tuple[str, str]:
        """Run the script `build(marker)` and return (stdout, stderr) up to the marker line."""
        with self._lock:
            try:
                return self._run(build, timeout)
            except Exception:
                self._discard()
                raise

    def _run(self, build: Callable[[str], str], timeout: float) -> tuple[str, str]:
        protocol, shell_id, command_id = self._open()
        marker = f"##herder-done-{uuid.uuid4().hex}##"
        protocol.send_command_input(shell_id, command_id, build(marker).encode("utf-8"))
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            try:
                out, err, _, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                out, err, done = b"", b"", False  # a long poll ended with no output yet: ask again
            stdout += out
            stderr += err
            text = stdout.decode("utf-8", "replace")
            if marker in text:
                return text[: text.index(marker)], stderr.decode("utf-8", "replace")
            if done:
                raise ShellBroken("the SCVMM PowerShell process ended unexpectedly: "
                                  f"{stderr.decode('utf-8', 'replace')[-500:]}")
            if time.monotonic() > deadline:
                raise ShellBroken(f"the SCVMM script did not finish within {timeout:.0f}s")

    def _discard(self) -> None:
        if self._protocol is not None and self._shell_id is not None:
            self._close_quietly(self._protocol, self._shell_id)
        self._protocol = self._shell_id = self._command_id = None

    @staticmethod
    def _close_quietly(protocol: Protocol, shell_id: str) -> None:
        try:  # best effort: the shell may already be gone, and WinRM reaps idle shells on its own
            protocol.close_shell(shell_id)
        except Exception as exc:
            log.debug("closing the SCVMM shell failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            self._discard()
