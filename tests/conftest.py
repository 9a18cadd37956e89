"""Shared fixtures: one real local stack per test session, and a fresh namespace per test."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from herder_dev import image_build, operator_identity
from herder_dev.operator_identity import ServiceAccountLogin
from herder_dev.processes import alive
from herder_dev.stack import Stack, StackState

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]
# Snapshot tasks take a moment on vCenter; in vcsim they are instant unless slowed down, and a test kills herder
# while one runs (tools/patches/vcsim-snapshots.patch keeps the VM readable meanwhile).
VCSIM_ARGS = ("-method-delay", "CreateSnapshot:1500,RevertToSnapshot:1500")
_started_pids: list[int] = []


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    """etcd + kube-apiserver + vcsim (+ SCVMM simulator), started once for the whole session."""
    directory = Path(os.environ.get("HERDER_TEST_STACK_DIR") or tmp_path_factory.mktemp("stack"))
    runner = Stack(directory, say=lambda line: print(f"[stack] {line}"), vcsim_args=VCSIM_ARGS)
    state = runner.up()
    _started_pids.extend(p.pid for p in state.processes.values())
    try:
        yield state
    finally:
        runner.down()


@pytest.fixture(scope="session")
def operator_login(stack: StackState) -> ServiceAccountLogin:
    """The chart's ServiceAccount and RBAC (release `herder` in herder-system), applied into the stack: the
    identity every operator the tests run acts as, so a permission the chart lacks fails a test."""
    return operator_identity.install(stack)


@pytest.fixture(scope="session")
def herder_image() -> str:
    """The operator image built from this checkout (make image); cached by content, so usually no build."""
    return image_build.ensure_image(say=lambda line: print(f"[image] {line}"))


@pytest.fixture(scope="session")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Helm's cache/config/data under tmp: the tests must not read or write the user's ~/.config/helm."""
    home = tmp_path_factory.mktemp("helm")
    return {f"HELM_{part}_HOME": str(home / part.lower()) for part in ("CACHE", "CONFIG", "DATA")}


@pytest.fixture
def kubectl(stack: StackState) -> Kubectl:
    def call(*args: str, input: str | None = None, check: bool = True,
             namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        return stack.kubectl(*args, input=input, check=check, namespace=namespace)

    return call


@pytest.fixture
def namespace(stack: StackState, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test. Namespaces are not deleted: no controller-manager finalizes them."""
    name = f"t-{request.node.name[:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:6]}"
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    stack.kubectl("create", "namespace", name)
    return name


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The stack must leave no process behind; a leftover fails the run."""
    leftovers = [pid for pid in _started_pids if alive(pid)]
    if leftovers:
        print(f"\nERROR: processes started by the test stack are still running: {leftovers}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
