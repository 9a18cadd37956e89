"""The SCVMM simulator as the provider tests see it: a real HTTPS WinRM endpoint with a throwaway CA,
and its admin API as the independent check of what the provider did."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import winrm

from herder.providers.base import Provider
from herder.providers.scvmm import SCVMMProvider
from herder.providers.types import Credentials, TaskRef, TaskResult, TaskStatus, TLSSettings
from herder_dev.scvmm_sim.server import Running

USER, PASSWORD = "herder", "s3cret-Pa55"
HEAD = "$ProgressPreference = 'SilentlyContinue'\n$ErrorActionPreference = 'Stop'\n"


@dataclass
class World:
    running: Running
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.running.port}/wsman"

    def provider(self, password: str = PASSWORD, ca_pem: str | None = None, **kwargs: Any) -> SCVMMProvider:
        tls = TLSSettings(ca_bundle=ca_pem if ca_pem is not None else self.ca.read_text())
        return SCVMMProvider(self.url, Credentials(USER, password), tls, transport="basic", **kwargs)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"https://127.0.0.1:{self.running.port}{path}", json=body,
                             auth=(USER, PASSWORD), verify=str(self.ca), timeout=10)
        r.raise_for_status()
        return r.json()

    def vms(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/admin/state")["vms"])

    def vm(self, vm_id: str) -> dict[str, Any] | None:
        return next((v for v in self.vms() if v["id"] == vm_id), None)

    def requests_made(self) -> dict[str, int]:
        return dict(self.admin("GET", "/admin/stats")["requests"])

    def ps(self, script: str) -> str:
        """A script run behind herder's back, through pywinrm's own run_ps."""
        session = winrm.Session(self.url, auth=(USER, PASSWORD), transport="ssl",
                                server_cert_validation="validate", ca_trust_path=str(self.ca))
        r = session.run_ps(HEAD + script)
        assert r.status_code == 0, r.std_err.decode()
        return r.std_out.decode().strip()


def wait_task(provider: Provider, ref: TaskRef, timeout: float = 20.0) -> TaskResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = provider.vms.task(ref)
        if result.status != TaskStatus.RUNNING:
            return result
        time.sleep(0.1)
    raise AssertionError(f"task {ref} did not finish")


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
