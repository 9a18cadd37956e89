"""Moving a VM on SCVMM, live: into another cloud (Set-SCVirtualMachine -Cloud), to another host (live migration,
Move-SCVirtualMachine -VMHost) and of its files (storage migration, -Path), in one script whose last VMM job is
the task to follow. Targets outside the zone are refused before anything moves (scope.py); what VMM refuses
(a host in maintenance, a VM in a state it cannot move, a cloud without capacity) raises Refused with VMM's text.
"""

from __future__ import annotations

from herder.errors import NotSupported, OutsideZone, ProviderError
from herder.providers.scvmm import scope
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.scripts import find_cloud, quote, wait_job
from herder.providers.types import ObservedVM, Operation, Placement, Relocation, SCVMMPlacement, TaskRef


def relocate(driver: Driver, server: ObservedVM, to: Relocation, zone: Placement) -> TaskRef:
    if not isinstance(zone, SCVMMPlacement):
        raise ProviderError(f"VM {server.name}: an SCVMM zone needs an SCVMM placement")
    if to.is_empty():
        return TaskRef.nothing_to_do(Operation.RELOCATE, server.ref)
    if to.pool and not zone.cloud:
        raise NotSupported(f"VM {server.name} is in cloud {server.resource_pool}: VMM moves a VM into another cloud "
                           "(Set-SCVirtualMachine -Cloud) and herder does not take one out of its cloud into a zone "
                           "without one; name a ResourcePool (spec.resourcePool), or give the zone a cloud")
    what = f"move VM {server.name} to {to.describe()}"
    missing = quote(f"VM {server.name} ({server.unique_id}) no longer exists (Error ID: 801)")
    lines = [f"$v = Get-SCVirtualMachine -ID {quote(server.ref)}", f"if ($null -eq $v) {{ throw {missing} }}",
             *scope.checked(zone, to.host, to.storage),
             "if ($outside) { $result = @{ outside = $outside } } else {", "$job = $null"]
    if to.pool:
        lines += [*find_cloud("c", zone.cloud or ""),
                  "if ([string]$v.Cloud.ID -ne [string]$c.ID) { "
                  "$v = Set-SCVirtualMachine -VM $v -Cloud $c -RunAsynchronously; $job = $v.MostRecentTask }",
                  wait_job("job", driver.job_timeout, f"{what}: the cloud change"),
                  "$v = Get-SCVirtualMachine -ID $v.ID"]
    if to.host or to.storage:
        target = (" -VMHost $h" if to.host else "") + (f" -Path {quote(to.storage)}" if to.storage else "")
        lines += [f"$null = Move-SCVirtualMachine -VM $v{target} -RunAsynchronously",
                  "$job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask"]
    lines += ["$result = @{ job = [string]$job.ID } }"]
    found = driver.run("relocate", what, "\n".join(lines))
    if found.get("outside"):
        raise OutsideZone(f"{what}: {found['outside']}")
    job = found.get("job")
    return TaskRef(str(job), Operation.RELOCATE) if job else TaskRef.nothing_to_do(Operation.RELOCATE, server.ref)
