"""Handles on the test vcsim: govc (the independent witness) and providers pointed at it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from herder.providers.types import Credentials, TLSSettings
from herder.providers.vcenter import Session, VCenterProvider
from herder_dev.tools import tool

USERNAME = "herder"
PASSWORD = "s3cret-vc"
TEMPLATE = "tmpl"


@dataclass
class Vcsim:
    port: int
    ca_pem: str
    cert_pem: str
    env: dict[str, str]

    def govc(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [str(tool("govc")), *args],
            env=os.environ | self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"govc {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def govc_json(self, *args: str) -> Any:
        return json.loads(self.govc(*args))

    def vm_info(self, name: str) -> Any:
        """govc's view of one VM (camelCase keys as in the vSphere API), or None when it does not exist."""
        vms = self.govc_json("vm.info", "-json", "-e", name).get("virtualMachines") or []
        return vms[0] if vms else None

    def provider(self, *, password: str = PASSWORD, tls: TLSSettings | None = None, max_wait_seconds: int = 60,
                 **session: Any) -> VCenterProvider:
        return VCenterProvider(Session("127.0.0.1", Credentials(USERNAME, password),
                                       tls or TLSSettings(ca_bundle=self.ca_pem), "DC0", port=self.port, **session),
                               max_wait_seconds=max_wait_seconds)
