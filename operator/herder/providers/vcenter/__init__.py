"""The vCenter provider (pyVmomi): one session, the VM lifecycle and the inventory watch per vCenter."""

from __future__ import annotations

from herder.providers.types import Credentials, TLSSettings
from herder.providers.vcenter.fields import OwnerField
from herder.providers.vcenter.images import VCenterImages
from herder.providers.vcenter.inventory import VCenterInventory
from herder.providers.vcenter.pools import VCenterPools
from herder.providers.vcenter.servers import VCenterServers
from herder.providers.vcenter.session import RequestHook, Session
from herder.providers.vcenter.zones import VCenterZones


class VCenterProvider:
    """`Provider` for one vCenter datacenter: `.endpoint` (the session), `.servers`, `.inventory`, `.pools`
    and `.zones`."""

    def __init__(
        self,
        host: str,
        credentials: Credentials,
        tls: TLSSettings,
        datacenter: str,
        *,
        port: int = 443,
        keepalive_seconds: float | None = 300.0,
        max_wait_seconds: int = 60,
        on_request: RequestHook | None = None,
    ) -> None:
        self.endpoint = Session(
            host,
            credentials,
            tls,
            datacenter,
            port=port,
            keepalive_seconds=keepalive_seconds,
            on_request=on_request,
        )
        owner = OwnerField()
        self.inventory = VCenterInventory(self.endpoint, owner, max_wait_seconds=max_wait_seconds)
        self.servers = VCenterServers(self.endpoint, owner, owned_by=self.inventory.owned_by)
        self.images = VCenterImages(self.endpoint, owner)
        self.pools = VCenterPools(self.endpoint)
        self.zones = VCenterZones(self.endpoint)

    def close(self) -> None:
        self.inventory.stop()
        self.endpoint.close()


__all__ = ["Session", "VCenterInventory", "VCenterPools", "VCenterProvider", "VCenterServers", "VCenterZones"]
