"""Fixtures for the chart and manifests tests: helm with private state dirs."""

from __future__ import annotations

import os
import subprocess

import pytest
from chart_helpers import Helm, run_helm

from herder_dev.stack import StackState


@pytest.fixture
def helm_offline(helm_home: dict[str, str]) -> Helm:
    """helm without a cluster (lint, template): they must not depend on one."""
    env = helm_home | {"KUBECONFIG": os.devnull}

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_helm(env, *args, check=check)

    return call


@pytest.fixture
def helm(stack: StackState, helm_home: dict[str, str]) -> Helm:
    """helm against the local stack."""
    env = stack.env() | helm_home

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_helm(env, *args, check=check)

    return call
