"""`herder dev up --node` on a running stack adds a node on which a Deployment runs; `down` removes it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_world import wait_for

from herder_dev import node, node_images
from herder_dev.processes import alive
from herder_dev.stack import Stack

pytestmark = pytest.mark.stack


def _deployment() -> dict[str, Any]:
    """Two replicas of the pause image: nothing to pull, and the node's own sandbox image."""
    labels = {"app": "pause"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pause"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "hostNetwork": True, "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "pause", "image": node_images.PAUSE_IMAGE,
                                         "imagePullPolicy": "Never"}]}}}}


def test_a_node_added_to_a_running_stack_runs_a_deployment_and_down_leaves_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "stack"
    Stack(directory, say=print).up()
    state = Stack(directory, with_node=True, say=print).up()
    pids = {name: p.pid for name, p in state.processes.items()}
    try:
        assert set(node.PROCESSES) <= set(pids)
        assert {n: p.pid for n, p in Stack(directory, with_node=True).up().processes.items()} == pids

        state.kubectl("apply", "-f", "-", input=json.dumps(_deployment()), namespace="default")

        def running() -> list[dict[str, Any]] | None:
            pods: list[dict[str, Any]] = json.loads(state.kubectl(
                "get", "pods", "-l", "app=pause", "-o", "json", namespace="default").stdout)["items"]
            ok = [p for p in pods if p["status"].get("phase") == "Running"]
            return pods if len(ok) == 2 == len(pods) else None

        pods = wait_for(running, timeout=90, interval=1, what="two pause pods Running")
        assert {p["spec"]["nodeName"] for p in pods} == {node.NODE_NAME}
        assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {"ReplicaSet"}
    finally:
        Stack(directory, say=print).down()
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert node.leftovers(directory) == []
