"""A simulator per test on a free loopback port, with a CA made for the session."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import winrm
from winrm.protocol import Protocol

from herder_dev import pki
from herder_dev.scvmm_sim.server import Config, Running, start

USER, PASSWORD = "herder", "s3cret-Pa55"


@dataclass
class Sim:
    running: Running
    config: Config
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.running.port}/wsman"

    def session(self, password: str = PASSWORD, **kwargs: Any) -> winrm.Session:
        return winrm.Session(self.url, auth=(USER, password), transport="ssl", server_cert_validation="validate",
                             ca_trust_path=str(self.ca), **kwargs)

    def protocol(self, **kwargs: Any) -> Protocol:
        return Protocol(self.url, transport="ssl", username=USER, password=PASSWORD,
                              server_cert_validation="validate", ca_trust_path=str(self.ca), **kwargs)

    def ps(self, script: str) -> winrm.Response:
        return self.session().run_ps(script)

    def raw_ps(self, script: str) -> tuple[bytes, bytes, int]:
        """Like run_ps, but with stderr as sent (CLIXML), not as pywinrm cleans it."""
        p = self.protocol()
        shell = p.open_shell(codepage=65001)
        encoded = base64.b64encode(script.encode("utf-16-le")).decode()
        cid = p.run_command(shell, f"powershell -encodedcommand {encoded}")
        out: tuple[bytes, bytes, int] = p.get_command_output(shell, cid)
        p.cleanup_command(shell, cid)
        p.close_shell(shell)
        return out

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"https://127.0.0.1:{self.running.port}{path}", json=body,
                             auth=(USER, PASSWORD), verify=str(self.ca), timeout=10)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[pki.CertPair, pki.CertPair]:
    d = tmp_path_factory.mktemp("pki")
    ca = pki.ensure_ca(d)
    return ca, pki.issue_server_cert(d, "scvmm-sim", ca)


def make_config(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair], job_seconds: float = 0.3) -> Config:
    _, server = tls
    return Config(host="127.0.0.1", port=0, cert=server.cert, key=server.key, username=USER, password=PASSWORD,
                  state_file=tmp_path / "scvmm-state.json", job_seconds=job_seconds)


@pytest.fixture
def sim(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> Iterator[Sim]:
    config = make_config(tmp_path, tls)
    running = start(config)
    try:
        yield Sim(running, config, tls[0].cert)
    finally:
        running.stop()


LIBRARY = "\\\\vmm01.herder.test\\MSSCVMMLibrary"  # the seeded library share, as a UNC path


def share_dir(sim: Sim) -> Path:
    """The real directory behind the seeded library share."""
    return sim.running.sim.store.library_root / "vmm01.herder.test" / "MSSCVMMLibrary"
