"""VM templates in the VMM library: find, adopt (a template, or a library disk given a template), capture a VM
(clone it, then make the template of the clone), import a VHD/VHDX over HTTP(S) on the library side, delete.

Identity: every template herder makes carries `herder-image-uid=<image UID>` in its Description, written by
New-SCVMTemplate itself, so a capture or import that ran before a crash is found instead of repeated. The files
herder puts in a library share live in `<share>\\herder-<image UID>`, so what an interrupted import or capture
left is found by the image alone.

A capture never consumes the server: New-SCVMTemplate -VM generalizes and destroys its source, so herder first
clones the stopped VM (New-SCVirtualMachine -VM; the clone's Description carries `herder-capture-uid=<image
UID>`, which keeps it from ever counting as an ECS's VM) and makes the template of the clone: two VMM jobs, each
returned as the task to follow.

An import runs on the library server: Invoke-WebRequest fetches the file into the share (on a shell of its own, as
a download may take long; a second shell reads the file's size for progress), Get-FileHash checks its SHA-256
before anything uses it, a .zip is expanded (Expand-Archive: Windows PowerShell 5.1 has nothing for gzip or xz),
Read-SCLibraryShare makes the disk known to VMM, and New-SCVMTemplate -VirtualHardDisk makes the template. A
failed step removes the directory again: nothing is left in the library.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from herder.api.ecs import PowerState
from herder.errors import ImportFailed, NotSupported, ProviderError
from herder.providers.download import without_userinfo
from herder.providers.scvmm.driver import Driver
from herder.providers.scvmm.observe import CAPTURE_MARK
from herder.providers.scvmm.scripts import find_cloud, is_guid, quote
from herder.providers.scvmm.vms import job_result
from herder.providers.types import (
    ObservedVM,
    Operation,
    Placement,
    SCVMMPlacement,
    TaskRef,
    TaskResult,
    TemplateInfo,
)
from herder.reasons import Reason

log = logging.getLogger(__name__)

IMAGE_MARK = "herder-image-uid="
ADOPTED_MARK = "herder-adopted-disk"  # a template herder made only to use a library disk as it is
_IMAGE_UID = re.compile(re.escape(IMAGE_MARK) + r"(\S+)")
# VMM's names for a guest OS herder knows only the family of.
GUEST_OS = {"Linux": "Other Linux (64 bit)", "Windows": "Windows Server 2022 Datacenter"}
PROGRESS_SECONDS = 1.0
_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# Why a library-side import step failed, as its script says, and what that means.
_IMPORT_FAILURES = {"download": Reason.DOWNLOAD_FAILED, "checksum": Reason.CHECKSUM_MISMATCH,
                    "invalid": Reason.INVALID_IMAGE}

# `$t` is a VMM template: what TemplateInfo needs of it.
_TEMPLATE = (
    "[pscustomobject]@{ id = [string]$t.ID; name = [string]$t.Name; cpu = [int]$t.CPUCount; "
    "memory = [int]$t.Memory; os = [string]$t.OperatingSystem; description = [string]$t.Description; "
    "disks = @($t.VirtualHardDisks | ForEach-Object { [pscustomobject]@{ location = [string]$_.Location; "
    "size = [int64]$_.MaximumSize } }) }"
)


def _disks(ref: str) -> str:
    """An expression: the library disks `ref` names, by library path or by name."""
    return (f"@(Get-SCVirtualHardDisk | Where-Object {{ [string]$_.Location -eq {quote(ref)} }})"
            if ref.startswith("\\\\") else f"@(Get-SCVirtualHardDisk -Name {quote(ref)})")


def _marked(variable: str, uid: str, source: str = "@(Get-SCVMTemplate -All)") -> str:
    """Sets `$variable` to the templates (or `source`'s objects) whose Description carries image `uid`'s mark."""
    return (f"${variable} = @({source} | Where-Object {{ [string]$_.Description -like "
            f"{quote('*' + IMAGE_MARK + uid + '*')} }})")


def _clones(variable: str, uid: str) -> str:
    """Sets `$variable` to the VMs a capture for image `uid` cloned."""
    return (f"${variable} = @(Get-SCVirtualMachine -All | Where-Object {{ [string]$_.Description -like "
            f"{quote('*' + CAPTURE_MARK + uid + '*')} }})")


def _templates(found: str) -> str:
    """`$result` = the projection of every template in `$found`."""
    return f"$result = @(foreach ($t in {found}) {{ {_TEMPLATE} }})"


def _share(where: SCVMMPlacement) -> list[str]:
    """Lines that set `$share` to the placement's library share (the first one when it names none)."""
    if not where.library_share:
        return ["$share = @(Get-SCLibraryShare)[0]",
                f"if ($null -eq $share) {{ throw {quote('VMM has no library share (Error ID: 801)')} }}"]
    # \\server\share: the library server by its FQDN or its short name, as UNC paths name it either way.
    server, _, name = where.library_share.strip("\\").partition("\\")
    short = server.split(".", 1)[0]
    match = (f"[string]$_.Name -eq {quote(name)} -and ([string]$_.LibraryServer.Name -eq {quote(server)} -or "
             f"[string]$_.LibraryServer.Name -eq {quote(short)} -or [string]$_.LibraryServer.Name -like "
             f"{quote(short + '.*')})")
    return [f"$share = @(Get-SCLibraryShare | Where-Object {{ {match} }})[0]",
            f"if ($null -eq $share) {{ throw {quote(f'library share {where.library_share} not found (Error ID: 801)')}"
            " }"]


def _directory(uid: str) -> str:
    """The directory, below a share, that holds the files herder put in the library for image `uid`."""
    return f"herder-{uid}"


def _remove_files(uid: str) -> str:
    """Lines that remove image `uid`'s library directory from every share, and the disks VMM knows in it."""
    folder = quote("\\" + _directory(uid))
    return "\n".join([
        "foreach ($s in @(Get-SCLibraryShare)) { $dir = [string]$s.Path + " + folder,
        "if (Test-Path -LiteralPath $dir) {",
        "foreach ($d in @(Get-SCVirtualHardDisk | Where-Object { [string]$_.Location -like ($dir + '\\*') })) "
        "{ $null = Remove-SCVirtualHardDisk -VirtualHardDisk $d -Force }",
        "Remove-Item -LiteralPath $dir -Recurse } }",
    ])


def _file_name(url: str) -> str:
    """The file name the URL publishes, safe as a Windows file name."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    return _FILE_NAME.sub("_", name).strip(".") or "image.vhdx"


def owner_of(description: str) -> str | None:
    found = _IMAGE_UID.search(description or "")
    return found.group(1) if found else None


def template_info(row: Mapping[str, Any]) -> TemplateInfo:
    disks = list(row.get("disks") or ())
    return TemplateInfo(
        unique_id=str(row["id"]), ref=str(row["id"]), name=str(row.get("name") or ""),
        path=str(disks[0].get("location") or "") if disks else str(row.get("name") or ""),
        cpu=int(row.get("cpu") or 0), memory_mib=int(row.get("memory") or 0),
        size_bytes=sum(int(d.get("size") or 0) for d in disks), guest_id=str(row.get("os") or ""),
        owner_uid=owner_of(str(row.get("description") or "")),
    )


class SCVMMImages:
    """The `Images` protocol on one SCVMM. Downloads run on `importer`, a driver (and shell) of their own."""

    def __init__(self, driver: Driver, importer: Driver) -> None:
        self._driver = driver
        self._importer = importer

    def _run(self, action: str, body: str) -> Any:
        return self._driver.run("image", action, body)

    def close(self) -> None:
        self._importer.close()

    def _one(self, rows: Any, what: str) -> TemplateInfo | None:
        infos = [template_info(row) for row in rows or ()]
        if len(infos) > 1:
            raise ProviderError(f"{len(infos)} templates match {what}: "
                                f"{', '.join(sorted(i.unique_id for i in infos))}")
        return infos[0] if infos else None

    # -- reads ------------------------------------------------------------------------------------------

    @staticmethod
    def _lookup(ref: str, *, by_identity: bool) -> list[str]:
        """Lines that set `$found` to the templates `ref` names: by ID, by herder's identity, by name."""
        lines = ["$found = @()"]
        if is_guid(ref):
            lines.append(f"$found = @(Get-SCVMTemplate -ID {quote(ref)})")
            if by_identity:
                lines += [_marked("mine", ref), "if ($found.Count -eq 0) { $found = $mine }"]
        lines.append(f"if ($found.Count -eq 0) {{ $found = @(Get-SCVMTemplate -Name {quote(ref)}) }}")
        return lines

    def find_template(self, ref: str) -> TemplateInfo | None:
        body = "\n".join([*self._lookup(ref, by_identity=True), _templates("$found")])
        return self._one(self._run(f"find template {ref}", body), f"{ref!r}")

    def find_disk(self, ref: str) -> TemplateInfo | None:
        body = "\n".join([f"$disks = {_disks(ref)}",
                          "$result = @(foreach ($d in $disks) { [pscustomobject]@{ id = [string]$d.ID; "
                          "name = [string]$d.Name; location = [string]$d.Location; size = [int64]$d.MaximumSize; "
                          "format = [string]$d.VHDFormatType } })"])
        rows = list(self._run(f"find library disk {ref}", body) or ())
        if len(rows) > 1:
            raise ProviderError(f"{len(rows)} library disks are named {ref!r}; name one by its library path")
        return (TemplateInfo(unique_id=str(rows[0]["id"]), ref=str(rows[0]["id"]), name=str(rows[0]["name"]),
                             path=str(rows[0]["location"]), cpu=0, memory_mib=0, size_bytes=int(rows[0]["size"] or 0),
                             is_template=False) if rows else None)

    def adopt_template(self, ref: str, name: str, uid: str, os_family: str) -> TemplateInfo | None:
        disk = _disks(ref)
        body = "\n".join([
            *self._lookup(ref, by_identity=False),
            "if ($found.Count -eq 0) {",
            _marked("found", uid),  # the template a pass before made of the disk
            "if ($found.Count -eq 0) {",
            f"$disks = {disk}",
            "if ($disks.Count -gt 1) { $result = @{ disks = $disks.Count } }",
            "elseif ($disks.Count -eq 1) {",
            f"$os = @(Get-SCOperatingSystem | Where-Object {{ $_.Name -eq {quote(GUEST_OS[os_family])} }})[0]",
            "$gen = 1; if ([string]$disks[0].VHDFormatType -eq 'VHDX') { $gen = 2 }",
            f"$found = @(New-SCVMTemplate -Name {quote(name)} -VirtualHardDisk $disks[0] -Generation $gen "
            f"-OperatingSystem $os -Description {quote(f'{IMAGE_MARK}{uid} {ADOPTED_MARK}')}) }} }} }}",
            "if ($null -eq $result) { " + _templates("$found") + " }",
        ])
        found = self._run(f"adopt template {ref}", body)
        if isinstance(found, dict):
            raise ProviderError(f"{found['disks']} library disks are named {ref!r}; name one by its library path")
        return self._one(found, f"{ref!r}")

    def release_template(self, uid: str) -> None:
        body = "\n".join([
            _marked("mine", uid),
            f"foreach ($t in $mine) {{ if ([string]$t.Description -like {quote('*' + ADOPTED_MARK + '*')}) "
            "{ $null = Remove-SCVMTemplate -VMTemplate $t } }",
            self._remove_clones(uid),
            "if ($mine.Count -eq 0) {", _remove_files(uid), "}",  # an import or capture that never finished
        ])
        self._run(f"release the templates of image {uid}", body)

    # -- capture ----------------------------------------------------------------------------------------

    def capture(self, vm: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        if not isinstance(placement, SCVMMPlacement):
            raise ProviderError(f"template {name}: an SCVMM image needs an SCVMM placement")
        if vm.power is not PowerState.OFF:
            raise NotSupported(f"VM {vm.name} runs: VMM clones only stopped VMs, so a capture on SCVMM needs "
                               "powerPolicy GuestShutdown or PowerOff")
        mark = quote(CAPTURE_MARK + uid)
        body = "\n".join([
            _marked("mine", uid),
            "if ($mine.Count -gt 0) { $result = @{ done = [string]$mine[0].ID } } else {",
            _clones("clone", uid),
            f"if ($clone.Count -gt 1) {{ throw ({quote(f'{CAPTURE_MARK}{uid}: ')} + $clone.Count + ' clones') }}",
            "if ($clone.Count -eq 1) { $c = $clone[0]; $s = [string]$c.Status",
            # Its creation or the template job still runs: follow it.
            "if (@('UnderCreation', 'UnderUpdate', 'UnderTemplateCreation') -contains $s) "
            "{ $result = @{ job = [string]$c.MostRecentTask.ID } }",
            "elseif ($s -eq 'CreationFailed') { $null = Remove-SCVirtualMachine -VM $c -Force; "
            "$result = @{ failed = [string]$c.MostRecentTask.ErrorInfo.Problem } }",
            "else {",
            *_share(placement),
            f"$dir = [string]$share.Path + {quote(chr(92) + _directory(uid))}",
            "$null = New-Item -ItemType Directory -Path $dir -Force",
            f"$null = New-SCVMTemplate -Name {quote(name)} -VM $c -LibraryServer $share.LibraryServer -SharePath $dir "
            f"-Description {quote(IMAGE_MARK + uid)} -RunAsynchronously",
            "$result = @{ job = [string](Get-SCVirtualMachine -ID $c.ID).MostRecentTask.ID } } }",
            "else {",
            f"$v = Get-SCVirtualMachine -ID {quote(vm.ref)}",
            f"if ($null -eq $v) {{ throw {quote(f'VM {vm.name} ({vm.unique_id}) no longer exists (Error ID: 801)')} }}",
            *self._clone(name, mark, placement),
            "$result = @{ job = [string]$c.MostRecentTask.ID } } }",
        ])
        found = self._run(f"capture VM {vm.name} as template {name}", body)
        if "failed" in found:
            raise ProviderError(f"cloning VM {vm.name} for template {name} failed: {found['failed']}",
                                reason=Reason.CAPTURE_FAILED)
        if "done" in found:
            return TaskRef.nothing_to_do(Operation.CAPTURE, str(found["done"]))
        return TaskRef(id=str(found["job"]), operation=Operation.CAPTURE)

    @staticmethod
    def _clone(name: str, mark: str, where: SCVMMPlacement) -> list[str]:
        """Lines that clone `$v` (stopped) into `$c`, on its own host, or into the placement's cloud."""
        if where.cloud:
            return [*find_cloud("cloud", where.cloud),
                    f"$c = New-SCVirtualMachine -VM $v -Name {quote(name)} -Description {mark} -Cloud $cloud "
                    "-RunAsynchronously"]
        path = quote(where.vm_path) if where.vm_path else "(@($v.VMHost.VMPaths)[0])"
        return [f"$c = New-SCVirtualMachine -VM $v -Name {quote(name)} -Description {mark} -VMHost $v.VMHost "
                f"-Path {path} -RunAsynchronously"]

    @staticmethod
    def _remove_clones(uid: str) -> str:
        return "\n".join([_clones("clone", uid),
                          "foreach ($c in $clone) { $null = Remove-SCVirtualMachine -VM $c -Force }"])

    # -- tasks ------------------------------------------------------------------------------------------

    def task(self, task: TaskRef) -> TaskResult:
        return job_result(self._driver, task)

    # -- import -----------------------------------------------------------------------------------------

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        raise NotSupported(f"template {name}: OVA and OVF images are for vCenter; SCVMM imports VHD and VHDX")

    def import_disk(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, os_family: str,
                    progress: Callable[[int], bool]) -> TemplateInfo:
        if not isinstance(placement, SCVMMPlacement):
            raise ProviderError(f"template {name}: an SCVMM image needs an SCVMM placement")
        done = self.find_template(uid)
        if done is not None:
            return done
        file_name = _file_name(url)
        # Start clean: what an import that died half-way left goes first.
        prepared = self._run(f"prepare the import of template {name}", "\n".join([
            _remove_files(uid), *_share(placement),
            f"$dir = [string]$share.Path + {quote(chr(92) + _directory(uid))}",
            "$null = New-Item -ItemType Directory -Path $dir -Force",
            f"$length = 0; try {{ $head = Invoke-WebRequest -Uri {quote(url)} -Method Head -UseBasicParsing "
            "-TimeoutSec 60; $length = [long]$head.Headers['Content-Length'] } catch { }",
            "$result = @{ dir = $dir; length = $length }",
        ]))
        directory, length = str(prepared["dir"]), int(prepared.get("length") or 0)
        target = f"{directory}\\{file_name}"
        log.info("template %s: downloading %s into %s on the library server", name, without_userinfo(url), directory)
        try:
            if self._download(url, target, length, checksum, progress):
                raise ProviderError(f"import of template {name} cancelled", reason=Reason.IMPORT_CANCELLED)
            found = self._importer.run("import", f"make template {name} of {file_name}",
                                       self._finish(target, directory, name, uid, os_family))
            self._raise_failure(found, url)
            info = self._one(found, f"image {uid}")
        except BaseException:
            self._clean_up(uid, name)
            raise
        if info is None:
            raise ProviderError(f"template {name} vanished right after its import")
        return info

    def _download(self, url: str, target: str, length: int, checksum: str, progress: Callable[[int], bool]) -> bool:
        """Fetch `url` into `target` and check its SHA-256 there, on the import shell, reporting progress from the
        file's size meanwhile; whether the import was cancelled. Raises ImportFailed (nothing left behind)."""
        expected = checksum.removeprefix("sha256:").lower()
        body = "\n".join([
            f"$file = {quote(target)}",
            f"try {{ Invoke-WebRequest -Uri {quote(url)} -OutFile $file -UseBasicParsing -TimeoutSec 60 }} catch {{",
            "$code = 0; if ($_.Exception.Response) { $code = [int]$_.Exception.Response.StatusCode }",
            "$result = @{ failed = 'download'; message = [string]$_.Exception.Message; code = $code } }",
            "if ($null -eq $result) { $hash = [string](Get-FileHash -Algorithm SHA256 -LiteralPath $file).Hash",
            f"if ($hash -ne {quote(expected)}) {{ $result = @{{ failed = 'checksum'; "
            "message = 'SHA-256 is sha256:' + $hash.ToLower() } }",
            "else { $result = @{ ok = $true } } }",
        ])
        outcome: dict[str, Any] = {}

        def fetch() -> None:
            try:
                outcome["result"] = self._importer.run("import", f"download {without_userinfo(url)}", body)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=fetch, name="scvmm-import", daemon=True)
        worker.start()
        cancelled = False
        while worker.is_alive():
            worker.join(PROGRESS_SECONDS)
            if worker.is_alive() and not cancelled:
                cancelled = not progress(self._percent(target, length))
        if "error" in outcome:
            raise outcome["error"]
        self._raise_failure(outcome["result"], url, expected)
        return cancelled

    def _percent(self, target: str, length: int) -> int:
        """How much of the file is there so far; 0 while unknown (no Content-Length, or the read failed)."""
        if length <= 0:
            return 0
        try:
            size = self._driver.run("image", "read the size of the download",
                                    f"$f = Get-Item -LiteralPath {quote(target)}\n$result = [long]$f.Length")
        except ProviderError as exc:
            log.debug("reading the size of %s: %s", target, exc)
            return 0
        return min(99, int(size or 0) * 100 // length)

    @staticmethod
    def _raise_failure(found: Any, url: str, expected: str = "") -> None:
        """Turn a step's `failed` answer into ImportFailed."""
        if not isinstance(found, dict) or "failed" not in found:
            return
        reason = _IMPORT_FAILURES[str(found["failed"])]
        message = str(found.get("message") or "")
        where = without_userinfo(url)
        if reason is Reason.CHECKSUM_MISMATCH:
            raise ImportFailed(reason, f"{where}: {message}, expected sha256:{expected}")
        if reason is Reason.DOWNLOAD_FAILED:
            code = int(found.get("code") or 0)
            raise ImportFailed(reason, f"GET {where}: " + (f"HTTP {code}: " if code else "") + message)
        raise ImportFailed(reason, f"{where}: {message}")

    @staticmethod
    def _finish(target: str, directory: str, name: str, uid: str, os_family: str) -> str:
        """The script that expands a .zip, makes the disk known to VMM and makes the template; answers the
        template, or `failed`."""
        expand = (f"Expand-Archive -LiteralPath $file -DestinationPath {quote(directory)} -Force\n"
                  "Remove-Item -LiteralPath $file") if target.lower().endswith(".zip") else ""
        return "\n".join([
            f"$file = {quote(target)}",
            expand,
            f"$dir = {quote(directory)}",
            "$share = @(Get-SCLibraryShare | Where-Object { $dir -like ([string]$_.Path + '\\*') })[0]",
            "$null = Read-SCLibraryShare -LibraryShare $share -Path $dir",
            "$disks = @(Get-SCVirtualHardDisk | Where-Object { [string]$_.Location -like ($dir + '\\*') })",
            "if ($disks.Count -eq 0) { $result = @{ failed = 'invalid'; message = 'not a VHD or VHDX disk image' } }",
            "elseif ($disks.Count -gt 1) { $result = @{ failed = 'invalid'; "
            "message = 'the archive holds ' + $disks.Count + ' disks, not one' } }",
            "else {",
            f"$os = @(Get-SCOperatingSystem | Where-Object {{ $_.Name -eq {quote(GUEST_OS[os_family])} }})[0]",
            "$null = Set-SCVirtualHardDisk -VirtualHardDisk $disks[0] -OperatingSystem $os",
            "$gen = 1; if ([string]$disks[0].VHDFormatType -eq 'VHDX') { $gen = 2 }",
            f"$t = New-SCVMTemplate -Name {quote(name)} -VirtualHardDisk $disks[0] -Generation $gen "
            f"-OperatingSystem $os -Description {quote(IMAGE_MARK + uid)}",
            f"$result = @({_TEMPLATE}) }}",
        ])

    def _clean_up(self, uid: str, name: str) -> None:
        try:
            self._run(f"clean up the import of template {name}", _remove_files(uid))
        except ProviderError as exc:
            log.warning("template %s: could not clean up the partial import: %s", name, exc)

    # -- delete -----------------------------------------------------------------------------------------

    def destroy_template(self, unique_id: str) -> TaskRef:
        body = "\n".join([
            f"$found = @(Get-SCVMTemplate -ID {quote(unique_id)})" if is_guid(unique_id) else "$found = @()",
            _marked("mine", unique_id),
            "if ($found.Count -eq 0) { $found = $mine }",
            "foreach ($t in $found) { $disks = @(Get-SCVirtualHardDisk -VMTemplate $t)",
            "$null = Remove-SCVMTemplate -VMTemplate $t",
            # A disk another template still uses stays.
            "foreach ($d in $disks) { $users = @(Get-SCVMTemplate -All | Where-Object { @($_.VirtualHardDisks | "
            "Where-Object { [string]$_.ID -eq [string]$d.ID }).Count -gt 0 })",
            "if ($users.Count -eq 0) { $null = Remove-SCVirtualHardDisk -VirtualHardDisk $d } } }",
            "$result = @(foreach ($t in $found) { [string]$t.Description })",
        ])
        removed = self._run(f"delete template {unique_id}", body)
        owners = {owner for owner in map(owner_of, removed or ()) if owner} if removed else {unique_id}
        for owner in sorted(owners):  # the clone and files a capture or import of that image left
            self._run(f"remove the library files of image {owner}",
                      "\n".join([self._remove_clones(owner), _remove_files(owner)]))
        return TaskRef.nothing_to_do(Operation.DESTROY)
