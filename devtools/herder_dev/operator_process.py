"""Run `herder run` as a real subprocess against a stack, so tests and the demo can kill -9 it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from herder_dev.processes import StackError, free_port, log_tail
from herder_dev.stack import StackState


def wait_healthy(url: str, exited: Callable[[], str | None], log: Callable[[], str], timeout: float) -> None:
    """Poll Kopf's liveness endpoint until it answers. `exited()` says how the operator ended, if it has;
    the last lines of `log()` go into the error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (how := exited()) is not None:
            raise StackError(f"{how}:\n{log()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise StackError(f"the operator did not answer {url} in {timeout:.0f}s:\n{log()}")


class OperatorProcess:
    """`herder run` as a subprocess. With `kubeconfig` it acts as whoever that names (the tests pass the
    chart's ServiceAccount, see operator_identity); without, as the stack's admin. `module` is what
    `python -m` runs with herder's command line: `herder.cli`, or a devtools wrapper around it."""

    def __init__(self, stack: StackState, log_path: Path, extra_env: dict[str, str] | None = None,
                 kubeconfig: Path | None = None, module: str = "herder.cli") -> None:
        self.stack = stack
        self.module = module
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.kubeconfig = kubeconfig
        self.proc: subprocess.Popen[bytes] | None = None
        self.health_port = 0
        self.metrics_port = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, timeout: float = 60.0) -> None:
        self.health_port, self.metrics_port = free_port(), free_port()
        env = os.environ | self.stack.env() | self.extra_env
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "run",
                 "--liveness", f"http://127.0.0.1:{self.health_port}/healthz",
                 "--metrics-port", str(self.metrics_port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        proc = self.proc
        wait_healthy(f"http://127.0.0.1:{self.health_port}/healthz",
                     lambda: None if proc.poll() is None else f"herder run exited with {proc.returncode}",
                     lambda: log_tail(self.log_path), timeout)

    def kill9(self) -> None:
        """A crash: no shutdown handlers, no finalizer clean-up, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
