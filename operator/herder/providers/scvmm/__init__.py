"""The SCVMM provider (pywinrm): VMM cmdlets run on a long-lived PowerShell over WinRM.

Only this package imports winrm. See docs/scvmm.md for the identity scheme, disk naming and round trips.
"""

from __future__ import annotations

from herder.providers.base import NotSupported
from herder.providers.scvmm.driver import CATrust, Driver, protocol_options
from herder.providers.scvmm.inventory import SCVMMInventory
from herder.providers.scvmm.servers import SCVMMServers
from herder.providers.scvmm.shell import Meter, RequestHook
from herder.providers.scvmm.zones import SCVMMZones
from herder.providers.types import Credentials, ObservedPool, PoolSpec, TLSSettings


class SCVMMPools:
    """Resource pools are a vCenter concept; SCVMM's clouds are not managed by herder yet."""

    def _refuse(self) -> NotSupported:
        return NotSupported("ResourcePools are not supported on SCVMM zones yet (clouds are managed in VMM)")

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        raise self._refuse()

    def observe(self, ref: str) -> ObservedPool | None:
        raise self._refuse()

    def delete(self, ref: str) -> None:
        raise self._refuse()


class SCVMMProvider:
    """`Provider` for one SCVMM: `.endpoint` (the driver), `.servers`, `.inventory`, `.pools` and `.zones`.

    `transport` is herder's name: `basic` (Basic over https, pywinrm's "ssl"), `ntlm`, `kerberos` or
    `credssp`. The servers and the inventory each get their own PowerShell process.
    """

    def __init__(
        self,
        endpoint_url: str,
        credentials: Credentials,
        tls: TLSSettings,
        *,
        transport: str = "ntlm",
        vmm_server: str | None = None,
        inventory_interval: float = 15.0,
        job_timeout: float = 600.0,
        on_request: RequestHook | None = None,
    ) -> None:
        self._trust = CATrust(tls)
        options = protocol_options(endpoint_url, credentials, self._trust, transport)
        meter = Meter(on_request)
        self.endpoint = Driver(endpoint_url, credentials, options, meter, vmm_server=vmm_server,
                               job_timeout=job_timeout)
        watch = Driver(endpoint_url, credentials, options, meter, vmm_server=vmm_server, job_timeout=job_timeout)
        self.inventory = SCVMMInventory(watch, interval=inventory_interval)
        self.servers = SCVMMServers(self.endpoint)
        self.pools = SCVMMPools()
        self.zones = SCVMMZones(self.endpoint)

    def close(self) -> None:
        self.inventory.stop()
        self.endpoint.close()
        self._trust.close()


__all__ = ["Driver", "SCVMMInventory", "SCVMMProvider", "SCVMMServers"]
