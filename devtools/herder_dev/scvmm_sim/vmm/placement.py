"""Which hosts take VMs: a host in maintenance mode or set not available for placement takes none.

Source: Disable-SCVMHost in the VMM cmdlet reference: in maintenance mode, virtual machines cannot be created
on the host or migrated to it, and the host is left out of placement; Set-SCVMHost -AvailableForPlacement.
"""

from __future__ import annotations

from herder_dev.scvmm_sim.vmm.errors import vmm_error
from herder_dev.scvmm_sim.vmm.state import Record

# Not in Microsoft's public docs (the VMM error catalogue is not published); the simulator's choice.
HOST_NOT_AVAILABLE = 13260


def placeable(host: Record) -> bool:
    return not host.get("maintenance", False) and bool(host.get("available_for_placement", True))


def ensure_placeable(host: Record) -> None:
    if host.get("maintenance", False):
        raise vmm_error(HOST_NOT_AVAILABLE, f"The host {host['name']} is in maintenance mode; it takes no new or "
                                            "migrated virtual machines.")
    if not placeable(host):
        raise vmm_error(HOST_NOT_AVAILABLE, f"The host {host['name']} is not available for placement "
                                            "(AvailableForPlacement is false).")
