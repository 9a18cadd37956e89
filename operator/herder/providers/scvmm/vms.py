"""VM lifecycle on SCVMM: find, create, reconfigure, power, destroy, adopt and release.

Each call is one script (one WinRM Send plus its Receives). Identity is the `HerderEcsUid` custom
property; VMs herder creates also carry `herder-ecs-uid=<uid>` in their Description, written by
New-SCVirtualMachine in the same call that creates the VM, so a create that crashed before the custom
property was set is still found and never duplicated (see observe.py). More than one match is a Conflict.

Long changes run with -RunAsynchronously; the returned TaskRef is the VMM job. Dependent steps of one
call (stop before remove, one disk change after another) are followed with Get-SCJob inside the script,
within the driver's job timeout. A call with nothing to do returns a TaskRef whose id starts with `done:`.
"""

from __future__ import annotations

from typing import Any

from herder.api.ecs import PowerState
from herder.errors import Conflict, NotFound, NotSupported, OutsideZone, ProviderError
from herder.providers import limits
from herder.providers.scvmm import moves, networks, observe, scope
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.observe import DESCRIPTION_MARK, DISK_INFIX, OWNER_PROPERTY, PROJECTION, owned
from herder.providers.scvmm.scripts import find_cloud, find_host_group, gib, is_guid, mib, quote, wait_job
from herder.providers.types import (
    AddressPool,
    DataDisk,
    GuestSetup,
    NICSpec,
    ObservedVM,
    Operation,
    Placement,
    Relocation,
    SCVMMPlacement,
    TaskRef,
    TaskResult,
    TaskStatus,
    VMChange,
    VMLocation,
    VMSpec,
)

_SUCCEEDED = frozenset({"Completed", "SucceedWithInfo"})
_FAILED = frozenset({"Failed", "Canceled"})

# Sets $cp to herder's custom property, creating it on first use.
_ENSURE_PROPERTY = (
    f"$cp = Get-SCCustomProperty -Name {quote(OWNER_PROPERTY)}\n"
    f"if ($null -eq $cp) {{ $cp = New-SCCustomProperty -Name {quote(OWNER_PROPERTY)} "
    "-Description 'The UID of the herder ECS that owns this VM' -AddMember @('VM') }"
)


def _task(job: Any, operation: Operation, ref: str) -> TaskRef:
    return TaskRef(id=str(job), operation=operation) if job else TaskRef.nothing_to_do(operation, ref)


def _vm(ref: str, missing: str) -> str:
    """Sets $v to the VM with ID `ref`; `missing` runs when there is none."""
    return f"$v = Get-SCVirtualMachine -ID {quote(ref)}\nif ($null -eq $v) {{ {missing} }}"


def _not_found(server: ObservedVM) -> str:
    return f"throw {quote(f'VM {server.name} ({server.unique_id}) no longer exists (Error ID: 801)')}"


def refuse(refused: str | None) -> None:
    """A guard on what the planner already checked (herder.providers.limits): nothing is made."""
    if refused is not None:
        raise NotSupported(refused)


def _credential(variable: str, user: str, password: str) -> str:
    return (f"${variable} = New-Object System.Management.Automation.PSCredential({quote(user)}, "
            f"(ConvertTo-SecureString {quote(password)} -AsPlainText -Force))")


def guest_profile(guest: GuestSetup) -> tuple[str, list[str]]:
    """(the guest OS profile parameters of New-SCVirtualMachine, the lines that make their credentials)."""
    params = [f"-ComputerName {quote(guest.hostname)}"] if guest.hostname else []
    lines: list[str] = []
    if not guest.windows:
        if guest.dns_domain:
            params.append(f"-LinuxDomainName {quote(guest.dns_domain)}")
        if guest.ssh_keys:
            params.append(f"-LinuxAdministratorSSHKeyString {quote(guest.ssh_keys[0])}")
        return "".join(" " + p for p in params), lines
    if guest.admin_password:
        lines.append(_credential("herderAdmin", "Administrator", guest.admin_password))
        params.append("-LocalAdministratorCredential $herderAdmin")
    if guest.time_zone is not None:
        params.append(f"-TimeZone {guest.time_zone}")
    if guest.product_key:
        params.append(f"-ProductKey {quote(guest.product_key)}")
    if guest.organization:
        params.append(f"-OrganizationName {quote(guest.organization)}")
    if guest.domain and guest.domain_join:
        lines.append(_credential("herderJoin", guest.domain_join.username, guest.domain_join.password))
        params += [f"-Domain {quote(guest.domain)}", "-DomainJoinCredential $herderJoin"]
    elif guest.workgroup:
        params.append(f"-Workgroup {quote(guest.workgroup)}")
    if guest.first_logon:
        params.append(f"-GuiRunOnceCommands @({', '.join(quote(c) for c in guest.first_logon)})")
    return "".join(" " + p for p in params), lines


def disk_file(vm_name: str, disk: DataDisk) -> str:
    return f"{vm_name}{DISK_INFIX}{disk.name}.vhdx"


def job_result(driver: Driver, task: TaskRef) -> TaskResult:
    """What became of a VMM job (Get-SCJob); `done:` refs succeed without a call, a job VMM forgot is UNKNOWN."""
    if task.finished:
        return task.finished_result()
    if not is_guid(task.id):
        return TaskResult(status=TaskStatus.UNKNOWN)
    body = (
        f"$j = Get-SCJob -ID {quote(task.id)}\n"
        "if ($j) { $result = @{ status = [string]$j.Status; problem = [string]$j.ErrorInfo.Problem; "
        "code = [string]$j.ErrorInfo.DisplayableErrorCode; target = [string]$j.ResultObjectID } }"
    )
    job = driver.run("task", f"read {task.operation} job {task.id}", body)
    if not job:
        return TaskResult(status=TaskStatus.UNKNOWN)
    target = str(job.get("target") or "") or None
    if job["status"] in _SUCCEEDED:
        return TaskResult(status=TaskStatus.SUCCEEDED, result_ref=target)
    if job["status"] in _FAILED:
        problem = job.get("problem") or f"the VMM job ended {job['status']}"
        return TaskResult(status=TaskStatus.FAILED, error=f"{problem} (Error ID: {job.get('code')})",
                          result_ref=target)
    return TaskResult(status=TaskStatus.RUNNING, result_ref=target)


class SCVMMVMs:
    """The `Servers` protocol on one SCVMM."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def _run(self, operation: str, action: str, body: str) -> Any:
        return self._driver.run(operation, action, body)

    @staticmethod
    def _one(rows: Any, what: str) -> ObservedVM | None:
        servers = [observe.to_server(row) for row in rows or ()]
        if len(servers) > 1:
            refs = ", ".join(sorted(s.ref for s in servers))
            raise Conflict(f"{len(servers)} VMs claim {what}: {refs}")
        return servers[0] if servers else None

    # -- reads ------------------------------------------------------------------------------------------

    def find(self, uid: str, known_ref: str | None = None) -> ObservedVM | None:
        body = "$result = @()\n"
        if known_ref and is_guid(known_ref):
            body += f"{_vm(known_ref, '')}\nif ($v -and {owned(uid)}) {{ $result = @({PROJECTION}) }}\n"
        body += f"if ($result.Count -eq 0) {{ {observe.project_all(owned(uid))} }}"
        return self._one(self._run("find", f"find the VM of ECS {uid}", body), f"ECS {uid}")

    def find_by_unique_id(self, unique_id: str) -> ObservedVM | None:
        if not is_guid(unique_id):
            return None
        body = f"{_vm(unique_id, '')}\n$result = @()\nif ($v) {{ $result = @({PROJECTION}) }}"
        return self._one(self._run("find", f"find VM {unique_id}", body), f"ID {unique_id}")

    def locate(self, server: ObservedVM) -> VMLocation:
        body = "\n".join([
            _vm(server.ref, _not_found(server)),
            "$result = @{ hostGroup = [string]$v.HostGroupPath; cloud = [string]$v.Cloud.Name; "
            "host = [string]$v.HostName }",
        ])
        found = self._run("locate", f"locate VM {server.unique_id}", body)
        return VMLocation(host=str(found.get("host") or "") or None,
                          host_group=str(found.get("hostGroup") or "") or None,
                          cloud=str(found.get("cloud") or "") or None)

    def address_pools(self, nics: tuple[NICSpec, ...]) -> tuple[AddressPool | None, ...]:
        static = [index for index, nic in enumerate(nics) if nic.static]
        if not static:
            return tuple(None for _ in nics)
        lines = ["$result = @{}"]
        for index in static:
            v = f"nic{index}"
            lines += [*networks.subnet(v, nics[index]), *networks.pool(v, nics[index]),
                      f"$result['{index}'] = @{{ name = [string]${v}Pool.Name; "
                      f"available = [int]${v}Pool.AvailableAddresses; granted = @(Get-SCIPAddress "
                      f"-StaticIPAddressPool ${v}Pool | ForEach-Object {{ [string]$_.Address }}) }}"]
        found = self._run("read", "read the static IP pools of the NICs", "\n".join(lines))
        pools = {int(key): AddressPool(str(row["name"]), int(row["available"]),
                                       frozenset(str(a) for a in row.get("granted") or ()))
                 for key, row in (found or {}).items()}
        return tuple(pools.get(index) for index in range(len(nics)))

    # -- create -----------------------------------------------------------------------------------------

    def create(self, spec: VMSpec) -> TaskRef:
        where = spec.placement
        if not isinstance(where, SCVMMPlacement) or not (where.host_group or where.cloud):
            raise ProviderError(
                f"VM {spec.name}: an SCVMM zone needs a placement with a host group or a cloud"
            )
        guest = spec.guest
        refuse(limits.guest_refusal(limits.SCVMM, user_data=bool(guest.user_data), sysprep=bool(guest.unattend),
                                    ssh_keys=len(guest.ssh_keys)) or limits.nics_refusal(limits.SCVMM, spec.networks))
        found = self._driver.run("create", f"create VM {spec.name}", self._create_script(spec, where),
                                 secrets=spec.guest.secrets())
        if found.get("outside"):
            raise OutsideZone(f"create VM {spec.name}: {found['outside']}")
        if "existing" in found:
            existing = found["existing"]
            if len(existing) > 1:
                refs = ", ".join(sorted(str(e["id"]) for e in existing))
                raise Conflict(f"{len(existing)} VMs claim ECS {spec.uid}: {refs}")
            # An earlier create ran: follow its job while it runs or if it failed, else it is done.
            only = existing[0]
            if only["status"] in ("UnderCreation", "CreationFailed"):
                return _task(only["job"], Operation.CREATE, str(only["id"]))
            return TaskRef.nothing_to_do(Operation.CREATE, str(only["id"]))
        return TaskRef(id=str(found["job"]), operation=Operation.CREATE)

    def _create_script(self, spec: VMSpec, where: SCVMMPlacement) -> str:
        uid = quote(spec.uid)
        template = f"-ID {quote(spec.template)}" if is_guid(spec.template) else f"-Name {quote(spec.template)}"
        lines = [
            _ENSURE_PROPERTY,
            f"$found = @(foreach ($v in @(Get-SCVirtualMachine -All)) {{ if ({owned(spec.uid)}) {{ $v }} }})",
            # Heal a create that stopped before the custom property was set; VMM may refuse while the VM is
            # under creation, and the Description mark keeps identifying it meanwhile.
            "foreach ($v in $found) { if ([string]$v.CustomProperty[" + quote(OWNER_PROPERTY) + "] -eq '') "
            f"{{ try {{ $null = Set-SCCustomPropertyValue -InputObject $v -CustomProperty $cp -Value {uid} }} "
            "catch { } } }",
            "if ($found.Count -gt 0) { $result = @{ existing = @(foreach ($v in $found) { @{ id = [string]$v.ID; "
            "status = [string]$v.Status; job = [string]$v.MostRecentTask.ID } }) } }",
            "else {",
            *scope.checked(where, where.host, where.storage_path),
            "if ($outside) { $result = @{ outside = $outside } } else {",
            f"$t = @(Get-SCVMTemplate {template})",
            f"if ($t.Count -ne 1) {{ throw {quote(f'template {spec.template!r}: found ')} + $t.Count + "
            "' templates (Error ID: 801)' }",
        ]
        target = ""
        if where.cloud:
            lines += find_cloud("cloud", where.cloud)
            target = "-Cloud $cloud"
        else:
            lines += find_host_group("hg", where.host_group or "")
            target = "-VMHostGroup $hg"
        lines.append(f"$cfg = New-SCVMConfiguration -VMTemplate $t[0] -Name {quote(spec.name)} {target}")
        location = where.storage_path or where.vm_path
        if where.host or location:
            settings = " -VMHost $h" if where.host else ""  # $h: the pinned host, checked to be the zone's
            if location:
                settings += f" -VMLocation {quote(location)}"
            lines.append(f"$cfg = Set-SCVMConfiguration -VMConfiguration $cfg{settings}")
        # Addresses are allocated before the VM exists; if anything fails, the configuration goes and gives them back.
        lines.append("try {")
        if spec.networks:
            lines += networks.configure_first(spec.networks[0])
        lines.append("$cfg = Update-SCVMConfiguration -VMConfiguration $cfg")
        lines.append("$group = [guid]::NewGuid()")
        for index, nic in enumerate(spec.networks[1:], start=1):
            lines += networks.queue(index, nic)
        # Data disks join the VM's creation job; LUN 0 is the template's OS disk.
        for lun, disk in enumerate(spec.data_disks, start=1):
            lines.append(
                f"$null = New-SCVirtualDiskDrive -SCSI -Bus 0 -LUN {lun} -Dynamic "
                f"-VirtualHardDiskSizeMB {mib(disk.size_bytes)} -FileName {quote(disk_file(spec.name, disk))} "
                "-JobGroup $group"
            )
        cloud = " -Cloud $cloud" if where.cloud else ""
        start = " -StartVM" if spec.power == PowerState.ON else ""
        profile, setup = guest_profile(spec.guest)
        lines += setup
        lines.append(
            f"$vm = New-SCVirtualMachine -Name {quote(spec.name)} -VMConfiguration $cfg -CPUCount {spec.cpu} "
            f"-MemoryMB {spec.memory_mib} -Description {quote(DESCRIPTION_MARK + spec.uid)}{cloud} "
            f"-JobGroup $group -RunAsynchronously{start}{profile}"
        )
        lines.append("} catch { try { $null = Remove-SCVMConfiguration -VMConfiguration $cfg } catch { }; throw }")
        lines.append(f"try {{ $null = Set-SCCustomPropertyValue -InputObject $vm -CustomProperty $cp -Value {uid} }} "
                     "catch { }")
        lines.append("$result = @{ id = [string]$vm.ID; job = [string]$vm.MostRecentTask.ID } } }")
        return "\n".join(lines)

    # -- tasks ------------------------------------------------------------------------------------------

    def task(self, task: TaskRef) -> TaskResult:
        return job_result(self._driver, task)

    # -- changes ----------------------------------------------------------------------------------------

    def reconfigure(self, server: ObservedVM, change: VMChange) -> TaskRef:
        if change.is_empty():
            return TaskRef.nothing_to_do(Operation.RECONFIGURE, server.ref)
        refuse(limits.change_refusal(limits.SCVMM, change, server))
        timeout = self._driver.job_timeout
        what = f"reconfigure VM {server.name}"
        steps: list[str] = []
        if change.cpu or change.memory_mib:
            sizing = (f" -CPUCount {change.cpu}" if change.cpu else "") + (
                f" -MemoryMB {change.memory_mib}" if change.memory_mib else "")
            steps.append(f"$v = Set-SCVirtualMachine -VM $v{sizing} -RunAsynchronously; $job = $v.MostRecentTask")
        for key, size in change.grow_disks:
            missing = quote(f"disk {key} of VM {server.name} not found (Error ID: 801)")
            steps.append(
                f"$d = @($v.VirtualDiskDrives | Where-Object {{ [string]$_.ID -eq {quote(key)} }})\n"
                f"if ($d.Count -eq 0) {{ throw {missing} }}\n"
                f"if ($d[0].VirtualHardDisk.MaximumSize -lt {size}) {{ $null = Expand-SCVirtualDiskDrive "
                f"-VirtualDiskDrive $d[0] -VirtualHardDiskSizeGB {gib(size)} -RunAsynchronously; "
                "$job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask }"
            )
        for disk in change.add_disks:
            name = quote(disk_file(server.name, disk))
            steps.append(
                # A repeated call finds the disk it added before and adds nothing.
                f"if (@($v.VirtualDiskDrives | Where-Object {{ $_.VirtualHardDisk.Name -eq {name} }}).Count -eq 0) {{ "
                "$used = @($v.VirtualDiskDrives | Where-Object { $_.BusType -eq 'SCSI' -and $_.Bus -eq 0 } | "
                "ForEach-Object { [int]$_.Lun }); $lun = 1\n"
                "while ($used -contains $lun) { $lun = $lun + 1 }\n"
                f"$null = New-SCVirtualDiskDrive -VM $v -SCSI -Bus 0 -LUN $lun -Dynamic "
                f"-VirtualHardDiskSizeMB {mib(disk.size_bytes)} -FileName {name} -RunAsynchronously; "
                "$job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask }"
            )
        for key, nic in change.change_nics:
            steps.append(networks.change(key, nic))
        for key in change.remove_nics:
            steps.append(networks.remove(key))
        steps += [networks.add(nic) for nic in change.add_nics]
        for key in change.remove_disks:
            steps.append(
                f"$d = @($v.VirtualDiskDrives | Where-Object {{ [string]$_.ID -eq {quote(key)} }})\n"
                "if ($d.Count -gt 0) { $null = Remove-SCVirtualDiskDrive -VirtualDiskDrive $d[0] -RunAsynchronously; "
                "$job = (Get-SCVirtualMachine -ID $v.ID).MostRecentTask }"
            )
        # Each step waits for the job before it, then re-reads the VM; the last job is the returned task.
        between = f"{wait_job('job', timeout, what)}\n$v = Get-SCVirtualMachine -ID $v.ID"
        body = "\n".join([_vm(server.ref, _not_found(server)), "$job = $null", f"\n{between}\n".join(steps),
                          "if ($job) { $result = [string]$job.ID }"])
        return _task(self._run("reconfigure", what, body), Operation.RECONFIGURE, server.ref)

    def set_power(self, server: ObservedVM, power: PowerState, *, graceful: bool = False) -> TaskRef:
        # Saved or Paused VMs resume first when asked to stop, and stopped VMs start before they suspend:
        # the next reconcile finishes the transition.
        start = "$v = Start-SCVirtualMachine -VM $v -RunAsynchronously"
        resume = "$v = Resume-SCVirtualMachine -VM $v -RunAsynchronously"
        actions = {
            PowerState.ON: {"PowerOff": start, "Saved": start, "Paused": resume},
            PowerState.OFF: {"Running": f"$v = Stop-SCVirtualMachine -VM $v -{'Shutdown' if graceful else 'Force'} "
                                        "-RunAsynchronously",
                             "Paused": "$v = Stop-SCVirtualMachine -VM $v -Force -RunAsynchronously",
                             "Saved": start},
            PowerState.SUSPENDED: {"Running": "$v = Suspend-SCVirtualMachine -VM $v -RunAsynchronously",
                                   "PowerOff": start},
        }[power]
        branches = " else".join(
            f"if ($s -eq {quote(status)}) {{ {command}; $result = [string]$v.MostRecentTask.ID }}"
            for status, command in actions.items()
        )
        body = f"{_vm(server.ref, _not_found(server))}\n$s = [string]$v.Status\n{branches}"
        operation = {PowerState.ON: Operation.POWER_ON,
                     PowerState.OFF: Operation.GUEST_SHUTDOWN if graceful else Operation.POWER_OFF,
                     PowerState.SUSPENDED: Operation.SUSPEND}[power]
        job = self._run("set_power", f"set power of VM {server.name} to {power}", body)
        return _task(job, operation, server.ref)

    def destroy(self, server: ObservedVM) -> TaskRef:
        what = f"delete VM {server.name}"
        body = "\n".join([
            f"$v = Get-SCVirtualMachine -ID {quote(server.ref)}",
            "$job = $null",
            "if ($v) {",
            "if (@('Running', 'Paused') -contains [string]$v.Status) { "
            "$job = (Stop-SCVirtualMachine -VM $v -Force -RunAsynchronously).MostRecentTask }",
            wait_job("job", self._driver.job_timeout, f"power off VM {server.name} before deleting it"),
            "$v = Get-SCVirtualMachine -ID $v.ID",
            "if ($v) { $null = Remove-SCVirtualMachine -VM $v -RunAsynchronously",
            "$v = Get-SCVirtualMachine -ID $v.ID",
            "if ($v) { $result = [string]$v.MostRecentTask.ID } } }",
        ])
        try:
            return _task(self._run("destroy", what, body), Operation.DESTROY, "")
        except NotFound:  # removed by someone else between our reads
            return TaskRef.nothing_to_do(Operation.DESTROY)

    # -- ownership marks --------------------------------------------------------------------------------

    def adopt(self, server: ObservedVM, uid: str) -> None:
        body = "\n".join([
            _ENSURE_PROPERTY,
            _vm(server.ref, _not_found(server)),
            f"$null = Set-SCCustomPropertyValue -InputObject $v -CustomProperty $cp -Value {quote(uid)}",
        ])
        self._run("adopt", f"adopt VM {server.name} for ECS {uid}", body)

    def relocate(self, server: ObservedVM, to: Relocation, zone: Placement) -> TaskRef:
        return moves.relocate(self._driver, server, to, zone)

    def release(self, server: ObservedVM) -> None:
        mark = quote(DESCRIPTION_MARK + r"\S*")
        body = "\n".join([
            # A VM that is gone has nothing left to unmark.
            f"$v = Get-SCVirtualMachine -ID {quote(server.ref)}",
            f"$cp = Get-SCCustomProperty -Name {quote(OWNER_PROPERTY)}",
            "if ($v) {",
            "if ($cp) { $value = Get-SCCustomPropertyValue -InputObject $v -CustomProperty $cp",
            "if ($value) { $null = Remove-SCCustomPropertyValue -CustomPropertyValue $value } }",
            f"if ([string]$v.Description -match {mark}) {{ $null = Set-SCVirtualMachine -VM $v "
            f"-Description (([string]$v.Description -replace {mark}, '').Trim()) }} }}",
        ])
        self._run("release", f"release VM {server.name}", body)
