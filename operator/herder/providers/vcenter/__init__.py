"""The vCenter provider (pyVmomi): one session, the VM lifecycle and the inventory watch per vCenter."""

from __future__ import annotations

from herder.providers.vcenter.fields import OwnerField
from herder.providers.vcenter.images import VCenterImages
from herder.providers.vcenter.inventory import VCenterInventory
from herder.providers.vcenter.pools import VCenterPools
from herder.providers.vcenter.session import Session
from herder.providers.vcenter.snapshots import VCenterSnapshots
from herder.providers.vcenter.vms import VCenterVMs
from herder.providers.vcenter.zones import VCenterZones

# A lookup by owner mark waits this long for the watch's first full listing (tens of seconds for a large
# inventory) rather than reading every VM itself: at start-up each pass thread would otherwise read them all.
OWNER_SYNC_WAIT_SECONDS = 60.0


class VCenterProvider:
    """`Provider` for one vCenter datacenter: `.endpoint` (the session), `.vms`, `.inventory`, `.snapshots`,
    `.images`, `.pools` and `.zones`."""

    def __init__(self, session: Session, *, max_wait_seconds: int = 60, read_only: bool = False) -> None:
        """`read_only`: reads define nothing on the vCenter (herder's custom field); for herder plan."""
        self.endpoint = session
        session.liveness.expect_answers_every(max_wait_seconds)  # the watch's WaitForUpdatesEx returns by then
        owner = OwnerField(read_only=read_only)
        self.inventory = VCenterInventory(self.endpoint, owner, max_wait_seconds=max_wait_seconds)
        self.vms = VCenterVMs(self.endpoint, owner,
                              owned_by=lambda uid: self.inventory.owned_by(uid, wait_seconds=OWNER_SYNC_WAIT_SECONDS))
        self.snapshots = VCenterSnapshots(self.endpoint, self.vms)
        self.images = VCenterImages(self.endpoint, owner)
        self.pools = VCenterPools(self.endpoint)
        self.zones = VCenterZones(self.endpoint)

    def close(self) -> None:
        self.inventory.stop()
        self.endpoint.close()


__all__ = ["Session", "VCenterInventory", "VCenterPools", "VCenterProvider", "VCenterSnapshots", "VCenterVMs",
           "VCenterZones"]
