"""A fresh SCVMM simulator per test on a free loopback port, serving HTTPS with a CA made per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scvmm_world import PASSWORD, USER, World

from herder.providers.scvmm import SCVMMProvider
from herder_dev import pki
from herder_dev.scvmm_sim.server import Config, start


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[pki.CertPair, pki.CertPair]:
    d = tmp_path_factory.mktemp("scvmm-pki")
    ca = pki.ensure_ca(d)
    return ca, pki.issue_server_cert(d, "scvmm-sim", ca)


@pytest.fixture
def world(tmp_path: Path, certs: tuple[pki.CertPair, pki.CertPair]) -> Iterator[World]:
    ca, server = certs
    config = Config(host="127.0.0.1", port=0, cert=server.cert, key=server.key, username=USER, password=PASSWORD,
                    state_file=tmp_path / "scvmm-state.json", job_seconds=0.3)
    running = start(config)
    try:
        yield World(running, ca.cert)
    finally:
        running.stop()


@pytest.fixture
def provider(world: World) -> Iterator[SCVMMProvider]:
    p = world.provider(job_timeout=30.0)
    try:
        yield p
    finally:
        p.close()
