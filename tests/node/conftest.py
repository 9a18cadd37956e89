"""Fixtures for the chart on a real node: a stack of its own with a node (herder dev up --node), the herder
image imported into the node's containerd, and helm against that stack."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from chart_helpers import Helm, run_helm
from e2e_world import Govc

from herder_dev import image_build, node, node_images
from herder_dev.stack import Stack, StackState

# Each vCenter clone task runs this long (vcsim's task delay; LockHandoff:0 keeps the template readable
# meanwhile), so that a test can act while one is in flight.
CLONE_DELAY = "CloneVm:4000,LockHandoff:0"  # the task is named CloneVm


@pytest.fixture(scope="session")
def node_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    """Control plane, simulators and a node. Not the session's shared stack: its controller-manager collects
    garbage and finalizes namespaces, which the tests on the shared stack do not expect."""
    runner = Stack(tmp_path_factory.mktemp("node-stack"), say=lambda line: print(f"[node-stack] {line}"),
                   vcsim_args=("-method-delay", CLONE_DELAY), with_node=True)
    state = runner.up()
    try:
        yield state
    finally:
        runner.down()
    assert node.leftovers(state.dir) == []


@pytest.fixture(scope="session")
def node_herder_image(node_stack: StackState, herder_image: str) -> str:
    """The herder image built from this checkout (`make image`; its archive in the image cache) imported into
    the node's containerd; its name there."""
    archive = image_build.cache_dir() / f"herder-{herder_image.rsplit(':', 1)[1]}.tar"
    assert archive.is_file(), f"{archive}: the image archive `make image` keeps is missing"
    socket = node.NodeLayout(node_stack.dir).socket
    before = set(node_images.images(socket))
    node_images.import_archive(socket, archive)
    added = [ref for ref in node_images.images(socket) if ref not in before and not ref.startswith("sha256:")]
    assert len(added) == 1, f"{archive} should hold one named image; containerd added {added}"
    return added[0]


@pytest.fixture(scope="session")
def node_helm(node_stack: StackState, helm_home: dict[str, str]) -> Helm:
    """helm against the node's stack."""
    env = node_stack.env() | helm_home

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_helm(env, *args, check=check)

    return call


@pytest.fixture(scope="session")
def node_govc(node_stack: StackState) -> Govc:
    return Govc(node_stack)
