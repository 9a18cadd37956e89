"""A real vcsim for the vCenter provider tests: TLS from a throwaway CA, a username and password, a template.

Results are checked with govc as well as through the provider, so a bug shared by both sides of the
provider cannot hide.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from vcsim_world import PASSWORD, TEMPLATE, USERNAME, Vcsim

from herder.providers.vcenter import VCenterProvider
from herder_dev.pki import ensure_ca, issue_server_cert
from herder_dev.processes import free_port, spawn, stop, wait_until
from herder_dev.tools import tool


def _ready(port: int, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/about", context=context, timeout=2) as resp:
        return bool(resp.status == 200)


@pytest.fixture(scope="session")
def vcsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vcsim]:
    directory = tmp_path_factory.mktemp("vcsim")
    ca = ensure_ca(directory)
    server = issue_server_cert(directory, "vcsim", ca)
    port = free_port()
    log = directory / "vcsim.log"
    pid = spawn(
        [
            str(tool("vcsim")),
            "-l",
            f"127.0.0.1:{port}",
            "-tlscert",
            str(server.cert),
            "-tlskey",
            str(server.key),
            "-username",
            USERNAME,
            "-password",
            PASSWORD,
            # Snapshot tasks take a second, as on vCenter: long enough to see one in flight.
            "-method-delay",
            "CreateSnapshot:1000",
        ],
        log,
    )
    try:
        wait_until("vcsim", pid, log, lambda: _ready(port, ca.cert))
        sim = Vcsim(
            port=port,
            ca_pem=ca.cert.read_text(),
            cert_pem=server.cert.read_text(),
            env={
                "GOVC_URL": f"https://127.0.0.1:{port}/sdk",
                "GOVC_USERNAME": USERNAME,
                "GOVC_PASSWORD": PASSWORD,
                "GOVC_TLS_CA_CERTS": str(ca.cert),
            },
        )
        sim.govc(
            "vm.create",
            "-on=false",
            "-c",
            "1",
            "-m",
            "1024",
            "-disk",
            "10G",
            "-g",
            "ubuntu64Guest",
            "-net",
            "VM Network",
            "-pool",
            "/DC0/host/DC0_C0/Resources",
            "-ds",
            "LocalDS_0",
            TEMPLATE,
        )
        sim.govc("vm.markastemplate", TEMPLATE)
        yield sim
    finally:
        stop(pid)


@pytest.fixture
def provider(vcsim: Vcsim) -> Iterator[VCenterProvider]:
    p = vcsim.provider()
    yield p
    p.close()
