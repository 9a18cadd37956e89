"""A simulator per test on a free loopback port, with a CA made for the session."""

from __future__ import annotations

import base64
import json
import re
import time
import xml.etree.ElementTree as ET
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
HEAD = "$ProgressPreference = 'SilentlyContinue'\n$ErrorActionPreference = 'Stop'\n"


def clixml_errors(stderr: bytes) -> str:
    """The error records' text in CLIXML stderr, as powershell.exe writes it."""
    text = stderr.decode("utf-8")
    assert text.startswith("#< CLIXML\r\n")
    root = ET.fromstring(text[len("#< CLIXML\r\n"):])
    ns = "{http://schemas.microsoft.com/powershell/2004/04}"
    lines = [s.text or "" for s in root.iter(f"{ns}S") if s.get("S") == "Error"]
    assert lines, "no error records"
    return "".join(lines).replace("_x000D__x000A_", "\n")


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


def _serve(config: Config, tls: tuple[pki.CertPair, pki.CertPair]) -> Iterator[Sim]:
    running = start(config)
    try:
        yield Sim(running, config, tls[0].cert)
    finally:
        running.stop()


@pytest.fixture
def sim(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> Iterator[Sim]:
    yield from _serve(make_config(tmp_path, tls), tls)


@pytest.fixture
def slow_sim(tmp_path: Path, tls: tuple[pki.CertPair, pki.CertPair]) -> Iterator[Sim]:
    """Jobs of 4 s: long enough to act on an object while its job runs, even on a loaded machine."""
    yield from _serve(make_config(tmp_path, tls, job_seconds=4.0), tls)


def ps_json(sim: Sim, script: str) -> Any:
    r = sim.ps(script)
    assert r.status_code == 0, r.std_err.decode()
    return json.loads(r.std_out)


def vm_in_state(sim: Sim, vm_id: str) -> dict[str, Any] | None:
    return next((v for v in sim.admin("GET", "/admin/state")["vms"] if v["id"] == vm_id), None)


def wait_job(sim: Sim, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = ps_json(sim, HEAD + f"$j = Get-SCJob -ID '{job_id}'\n"
                      "[pscustomobject]@{ Status = [string]$j.Status; Done = $j.IsCompleted; "
                      "Code = $j.ErrorInfo.Code; Problem = $j.ErrorInfo.Problem } | ConvertTo-Json -Compress")
        if job["Done"]:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def make_vm(sim: Sim, name: str, *, host_group: str = "Zone-B", cloud: str | None = None, cpu: int = 2,
            memory_mb: int = 2048, start: bool = False) -> str:
    """A VM made from the Ubuntu template (synchronously); its ID."""
    place = f"-Cloud (Get-SCCloud -Name '{cloud}')" if cloud else \
        f"-VMHostGroup (Get-SCVMHostGroup -Name '{host_group}')"
    created = sim.ps(HEAD + "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n"
                     f"$cfg = New-SCVMConfiguration -VMTemplate $t -Name '{name}' {place}\n"
                     "$cfg = Update-SCVMConfiguration -VMConfiguration $cfg\n"
                     f"$vm = New-SCVirtualMachine -Name '{name}' -VMConfiguration $cfg -CPUCount {cpu} "
                     f"-MemoryMB {memory_mb}{' -StartVM' if start else ''}\n[string]$vm.ID")
    assert created.status_code == 0, created.std_err.decode()
    return created.std_out.decode().strip()


def vmm_error_id(sim: Sim, script: str) -> int:
    """The VMM error ID a failing script ends with."""
    r = sim.ps(HEAD + script)
    assert r.status_code == 1, r.std_out.decode()
    found = re.search(rb"\(Error ID: (\d+)\)", r.std_err)
    assert found, r.std_err.decode()
    return int(found.group(1))


LIBRARY = "\\\\vmm01.herder.test\\MSSCVMMLibrary"  # the seeded library share, as a UNC path


def share_dir(sim: Sim) -> Path:
    """The real directory behind the seeded library share."""
    return sim.running.sim.store.library_root / "vmm01.herder.test" / "MSSCVMMLibrary"
