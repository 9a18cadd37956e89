"""The SCVMM provider (pywinrm): VMM cmdlets run on a long-lived PowerShell over WinRM.

Only this package imports winrm. See docs/scvmm.md for the identity scheme, disk naming and round trips.
"""

from __future__ import annotations

from herder.providers.liveness import Liveness
from herder.providers.scvmm.driver import CATrust, Driver, protocol_options
from herder.providers.scvmm.images import SCVMMImages
from herder.providers.scvmm.inventory import SCVMMInventory
from herder.providers.scvmm.pools import SCVMMPools
from herder.providers.scvmm.shell import Meter, RequestHook
from herder.providers.scvmm.snapshots import SCVMMSnapshots
from herder.providers.scvmm.vms import SCVMMVMs
from herder.providers.scvmm.zones import SCVMMZones
from herder.providers.types import Credentials, TLSSettings

BULK_READ_SECONDS = 10.0
# One bulk drift read per interval whatever the number of VMs (2 WinRM requests; on the simulator 0.1 s for one VM,
# 1.4 s for 500: see docs/scvmm.md and `python -m herder_dev.bench_inventory`).
INVENTORY_SECONDS = 5.0
# How long an image import's download, checksum and template may take on the library server.
IMPORT_SECONDS = 6 * 3600.0


class SCVMMProvider:
    """`Provider` for one SCVMM: `.endpoint` (the driver), `.vms`, `.inventory`, `.snapshots`, `.images`, `.pools`
    and `.zones`.

    `transport` is herder's name: `basic` (Basic over https, pywinrm's "ssl"), `ntlm`, `kerberos` or
    `credssp`. The servers, the inventory and image downloads each get their own PowerShell process.
    """

    def __init__(
        self,
        endpoint_url: str,
        credentials: Credentials,
        tls: TLSSettings,
        *,
        transport: str = "ntlm",
        vmm_server: str | None = None,
        inventory_interval: float = INVENTORY_SECONDS,
        job_timeout: float = 600.0,
        on_request: RequestHook | None = None,
    ) -> None:
        self._trust = CATrust(tls)
        options = protocol_options(endpoint_url, credentials, self._trust, transport)
        # The inventory's own shell reads every `inventory_interval` (a bulk read takes seconds, not minutes),
        # whatever the other shell waits for: so a healthy VMM answers at least that often.
        meter = Meter(on_request, Liveness(answers_every=inventory_interval + BULK_READ_SECONDS))
        self.endpoint = Driver(endpoint_url, credentials, options, meter, vmm_server=vmm_server,
                               job_timeout=job_timeout)
        watch = Driver(endpoint_url, credentials, options, meter, vmm_server=vmm_server, job_timeout=job_timeout)
        self.inventory = SCVMMInventory(watch, interval=inventory_interval)
        self.vms = SCVMMVMs(self.endpoint)
        self.snapshots = SCVMMSnapshots(self.endpoint, self.vms)
        # A download may take hours: it runs on a shell of its own.
        importer = Driver(endpoint_url, credentials, options, meter, vmm_server=vmm_server, job_timeout=IMPORT_SECONDS)
        self.images = SCVMMImages(self.endpoint, importer)
        self.pools = SCVMMPools(self.endpoint)
        self.zones = SCVMMZones(self.endpoint)

    def close(self) -> None:
        self.inventory.stop()
        self.images.close()
        self.endpoint.close()
        self._trust.close()


__all__ = ["Driver", "SCVMMInventory", "SCVMMProvider", "SCVMMSnapshots", "SCVMMVMs"]
