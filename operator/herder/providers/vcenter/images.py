"""VM templates on vCenter: find, capture (clone a VM into a template), OVA/OVF import, delete.

Identity: every template herder makes carries the Image's UID as its instance UUID (set in the clone or
import spec), so a capture or import that ran before a crash is found by identity instead of repeated.

An OVA import streams: the HTTP(S) response is read once, in chunks, through a SHA-256; the tar members
(descriptor first, as the OVA format requires) go straight into the NFC lease's upload URLs. Nothing is
held in memory beyond one chunk. The checksum is known only at the end: a mismatch aborts the lease and
destroys the partial VM, so nothing is left behind. An OVF (descriptor and files side by side) is the same
import, fed file by file from beside the descriptor: `checksum` pins the descriptor, checked before anything
is made, and each file is checked against the package's SHA-256 manifest (`.mf`) when one is published.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from pyVmomi import vim, vmodl

from herder.errors import Conflict, ImportFailed, NotFound, NotSupported, ProviderError, describe
from herder.providers import download
from herder.providers.types import (
    ObservedVM,
    Operation,
    Placement,
    TaskRef,
    TaskResult,
    TemplateInfo,
    VCenterPlacement,
)
from herder.providers.vcenter import placement as places
from herder.providers.vcenter import query, tasks
from herder.providers.vcenter.errors import fault_message
from herder.providers.vcenter.fields import OwnerField
from herder.providers.vcenter.session import Session
from herder.reasons import Reason

log = logging.getLogger(__name__)
LEASE_READY_TIMEOUT = 300.0
LEASE_PROGRESS_SECONDS = 5.0
_WAIT_TIMEOUT = 300.0
_TEMPLATE_PROPERTIES = [
    "name", "parent", "config.instanceUuid", "config.template", "config.hardware.numCPU",
    "config.hardware.memoryMB", "config.guestId", "config.hardware.device",
]
_VM: Any = vim.VirtualMachine
_Task: Any = vim.Task
_ConfigSpec: Any = vim.vm.ConfigSpec
_CloneSpec: Any = vim.vm.CloneSpec
_Relocate: Any = vim.vm.RelocateSpec
_ImportParams: Any = vim.OvfManager.CreateImportSpecParams




@dataclass(frozen=True)
class _ImportJob:
    url: str
    expected: str  # sha256 hex of the OVA, or of the OVF descriptor
    name: str
    uid: str
    where: VCenterPlacement
    progress: Callable[[int], bool]


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# Uploads a package's files: gets {path in the package: upload URL} and an upload function; returns what it sent.
_Feed = Callable[[dict[str, str], Callable[[str, _Readable, int], None]], set[str]]


class VCenterImages:
    """The `Images` protocol on one vCenter datacenter."""

    def __init__(self, session: Session, owner_field: OwnerField) -> None:
        self._session = session
        self._owner = owner_field

    # -- reads ------------------------------------------------------------------------------------------

    def _path(self, content: Any, vm: Any, name: str, parent: Any) -> str:
        parts = [name]
        node = parent
        while node is not None and not isinstance(node, vim.Datacenter):
            props = query.properties(content, node, ["name", "parent"])
            parts.append(str(props.get("name")))
            node = props.get("parent")
        if node is not None:
            parts.append(str(node.name))
        return "/" + "/".join(reversed(parts))

    def _info(self, vm: Any) -> TemplateInfo | None:
        content = self._session.content
        try:
            props = query.properties(content, vm, _TEMPLATE_PROPERTIES)
        except vmodl.fault.ManagedObjectNotFound:
            return None
        unique_id = props.get("config.instanceUuid")
        if not unique_id:
            return None  # still being created
        devices = props.get("config.hardware.device") or ()
        size = sum(int(d.capacityInBytes or 0) for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
        name = str(props.get("name"))
        return TemplateInfo(
            unique_id=str(unique_id), ref=str(vm._moId), name=name,
            path=self._path(content, vm, name, props.get("parent")),
            cpu=int(props.get("config.hardware.numCPU") or 0),
            memory_mib=int(props.get("config.hardware.memoryMB") or 0), size_bytes=size,
            guest_id=str(props.get("config.guestId") or ""), is_template=bool(props.get("config.template")),
        )

    def _by_uuid(self, unique_id: str) -> Any:
        found = query.vms_by_instance_uuid(self._session.content, self._session.datacenter(), unique_id)
        if len(found) > 1:
            raise Conflict(f"{len(found)} VMs claim instance UUID {unique_id}")
        return found[0] if found else None

    def find_template(self, ref: str) -> TemplateInfo | None:
        def run() -> TemplateInfo | None:
            try:
                vm = places.template(self._session.content, self._session.datacenter(), ref)
            except NotFound:
                return None
            return self._info(vm)

        return self._session.call(f"find template {ref}", run)

    def find_disk(self, ref: str) -> TemplateInfo | None:
        """vCenter clones templates (and VMs) only: a disk is never an image here."""
        return None

    def adopt_template(self, ref: str, name: str, uid: str, os_family: str) -> TemplateInfo | None:
        return self.find_template(ref)  # vCenter clones any template or VM as it is

    def release_template(self, uid: str) -> None:
        """Nothing to do: herder makes nothing around an adopted vCenter template."""

    # -- capture ----------------------------------------------------------------------------------------

    def capture(self, server: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        if not isinstance(placement, VCenterPlacement):
            raise ProviderError(f"template {name}: a vCenter image needs a vCenter placement")

        def run() -> TaskRef:
            content, datacenter = self._session.content, self._session.datacenter()
            made = self._by_uuid(uid)
            if made is not None:
                # A capture before a crash already made it.
                return TaskRef.nothing_to_do(Operation.CAPTURE, str(made._moId))
            source = self._by_uuid(server.unique_id)
            if source is None:
                raise ProviderError(f"VM {server.name} ({server.unique_id}) no longer exists",
                                    reason=Reason.SERVER_NOT_FOUND)
            target = places.resolve(content, datacenter, placement, ())
            taken = content.searchIndex.FindChild(entity=target.folder, name=name)
            if taken is not None:
                raise Conflict(f"a VM or template named {name!r} ({taken._moId}) already exists and is not this "
                               f"image's (instance UUID {uid})")
            # No pool: a template has none. The source keeps running; vCenter snapshots it for the copy.
            spec = _CloneSpec(location=_Relocate(datastore=target.datastore), template=True, powerOn=False,
                              config=_ConfigSpec(instanceUuid=uid))
            task = source.CloneVM_Task(folder=target.folder, name=name, spec=spec)
            return TaskRef(id=str(task._moId), operation=Operation.CAPTURE)

        return self._session.call(f"capture VM {server.name} as template {name}", run)

    # -- tasks ------------------------------------------------------------------------------------------

    def task(self, task: TaskRef) -> TaskResult:
        def captured(ref: str | None) -> None:
            if task.operation is Operation.CAPTURE and ref:
                # A captured adopted VM would hand its owner mark on to the template: clear it.
                self._owner.set(self._session.content, _VM(ref, self._session.stub), "")

        return tasks.read(self._session, task, on_success=captured)

    # -- delete -----------------------------------------------------------------------------------------

    def destroy_template(self, unique_id: str) -> TaskRef:
        def run() -> TaskRef:
            vm = self._by_uuid(unique_id)
            if vm is None:
                return TaskRef.nothing_to_do(Operation.DESTROY)
            try:
                return TaskRef(id=str(vm.Destroy_Task()._moId), operation=Operation.DESTROY)
            except vmodl.fault.ManagedObjectNotFound:
                return TaskRef.nothing_to_do(Operation.DESTROY)

        return self._session.call(f"delete template {unique_id}", run)

    def _destroy_now(self, vm: Any, what: str) -> None:
        """Power off and destroy a partial VM, waiting for it; best effort (logged) on the cleanup path."""
        try:
            if query.properties(self._session.content, vm, ["runtime.powerState"]).get("runtime.powerState") == \
                    "poweredOn":
                tasks.wait(vm.PowerOffVM_Task(), f"power off {what}", _WAIT_TIMEOUT)
            tasks.wait(vm.Destroy_Task(), f"delete {what}", _WAIT_TIMEOUT)
        except vmodl.fault.ManagedObjectNotFound:
            pass

    # -- import -----------------------------------------------------------------------------------------

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        if not isinstance(placement, VCenterPlacement):
            raise ProviderError(f"template {name}: a vCenter image needs a vCenter placement")
        expected = checksum.removeprefix("sha256:").lower()

        def leftover() -> TemplateInfo | None:
            vm = self._by_uuid(uid)
            if vm is None:
                return None
            info = self._info(vm)
            if info is not None and info.is_template:
                return info
            # A partial import (the operator died mid-upload): start over.
            log.info("template %s: removing a partial import (%s)", name, vm._moId)
            self._destroy_now(vm, f"partial import {name}")
            return None

        done = self._session.call(f"find template {name}", leftover)
        if done is not None:
            return done
        job = _ImportJob(url, expected, name, uid, placement, progress)
        if not packaged:
            return self._import_ovf(job)
        response, total = download.open_url(url)
        try:
            return self._import_ova(job, response, total)
        finally:
            response.close()

    def import_disk(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, os_family: str,
                    progress: Callable[[int], bool]) -> TemplateInfo:
        raise NotSupported(f"template {name}: VHD and VHDX images are for SCVMM; vCenter imports OVA and OVF")

    def _import_ova(self, job: _ImportJob, response: IO[bytes], total: int) -> TemplateInfo:
        """One tar stream: the descriptor first, then each file straight into its upload URL; the whole
        archive's SHA-256 is known only at the end."""
        url, expected = job.url, job.expected
        reader = download.HashingReader(response, url)
        try:
            archive = tarfile.open(fileobj=reader, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
            first = archive.next()
        except tarfile.TarError as exc:
            raise ImportFailed(Reason.INVALID_IMAGE, f"{url} is not an OVA (tar) archive: {exc}") from exc
        if first is None or not first.name.lower().endswith(".ovf") or first.size > download.MAX_DESCRIPTOR:
            raise ImportFailed(Reason.INVALID_IMAGE,
                               f"{url} is not an OVA: its first entry must be the .ovf descriptor")
        stream = archive.extractfile(first)
        if stream is None:
            raise ImportFailed(Reason.INVALID_IMAGE, f"{url}: the OVF descriptor is not a regular file")
        descriptor = stream.read().decode("utf-8", errors="replace")

        def feed(files: dict[str, str], upload: Callable[[str, _Readable, int], None]) -> set[str]:
            uploaded: set[str] = set()
            for member in archive:
                target = files.get(member.name)
                if target is None or not member.isfile():
                    continue
                body = archive.extractfile(member)
                assert body is not None
                upload(target, body, member.size)
                uploaded.add(member.name)
            reader.drain()
            digest = reader.sha256.hexdigest()
            if digest != expected:
                raise ImportFailed(Reason.CHECKSUM_MISMATCH,
                               f"{url}: SHA-256 is sha256:{digest}, expected sha256:{expected}")
            return uploaded

        return self._run_import(job, descriptor, feed, lambda: min(99, reader.count * 100 // total) if total else 0)

    def _import_ovf(self, job: _ImportJob) -> TemplateInfo:
        """A descriptor and its files side by side: the descriptor (which `checksum` pins) is checked before
        anything is made; each file is fetched from beside it and streamed into its upload URL, checked against
        the package's manifest (`<descriptor>.mf`) when one is published."""
        url, expected = job.url, job.expected
        descriptor = download.fetch_small(url, "the OVF descriptor")
        digest = hashlib.sha256(descriptor).hexdigest()
        if digest != expected:
            raise ImportFailed(Reason.CHECKSUM_MISMATCH,
                               f"{url}: SHA-256 is sha256:{digest}, expected sha256:{expected}")
        published = download.manifest(url)
        sent = [0]
        opened: dict[str, tuple[str, IO[bytes], int]] = {}  # path in the package -> (URL, response, length)

        def fetch(paths: list[str]) -> None:
            # Every file is requested before anything is made in vCenter: a missing one leaves nothing behind.
            for path in paths:
                file_url = urllib.parse.urljoin(url, urllib.parse.quote(path))
                response, length = download.open_url(file_url)
                opened[path] = (file_url, response, length)
                if not length:
                    raise ImportFailed(Reason.DOWNLOAD_FAILED, f"GET {file_url}: no Content-Length")

        def feed(files: dict[str, str], upload: Callable[[str, _Readable, int], None]) -> set[str]:
            for path, target in sorted(files.items()):
                file_url, response, length = opened[path]
                reader = download.HashingReader(response, file_url)
                upload(target, download.Counting(reader, sent), length)
                wanted, got = published.get(path), reader.sha256.hexdigest()
                if wanted is not None and got != wanted:
                    raise ImportFailed(Reason.CHECKSUM_MISMATCH,
                                       f"{file_url}: SHA-256 is sha256:{got}, the manifest says sha256:{wanted}")
            return set(files)

        def percent() -> int:
            total = sum(length for _, _, length in opened.values())
            return min(99, sent[0] * 100 // total) if total else 0

        try:
            return self._run_import(job, descriptor.decode("utf-8", errors="replace"), feed, percent, before=fetch)
        finally:
            for _, response, _ in opened.values():
                response.close()

    def _run_import(self, job: _ImportJob, descriptor: str, feed: _Feed, percent: Callable[[], int], *,
                    before: Callable[[list[str]], None] = lambda paths: None) -> TemplateInfo:
        """Check `descriptor`, let `before` see the files it needs (nothing is made yet), start ImportVApp, let
        `feed` upload the files (it returns the ones it sent), then mark the VM a template. On any failure after
        ImportVApp the lease is aborted and the partial VM destroyed."""
        url, name, uid, where, progress = job.url, job.name, job.uid, job.where, job.progress
        result, target = self._session.call(f"check the descriptor of template {name}",
                                            lambda: self._import_spec(descriptor, name, uid, where))
        before([item.path for item in result.fileItem or ()])
        lease, files, entity = self._session.call(f"start the import of template {name}",
                                                  lambda: self._start_lease(result, target, name))
        last_tick = [time.monotonic()]

        def tick() -> None:
            done = percent()
            if not progress(done):
                raise ProviderError(f"import of template {name} cancelled", reason=Reason.IMPORT_CANCELLED)
            if time.monotonic() - last_tick[0] >= LEASE_PROGRESS_SECONDS:
                last_tick[0] = time.monotonic()
                self._session.call("report import progress", lambda: lease.HttpNfcLeaseProgress(percent=done))

        try:
            uploaded = feed(files, lambda target, body, size: self._upload(target, body, size, tick))
            missing = sorted(set(files) - uploaded)
            if missing:
                raise ImportFailed(Reason.INVALID_IMAGE, f"{url}: the package lacks the file(s) {', '.join(missing)}")

            def finish() -> TemplateInfo | None:
                lease.HttpNfcLeaseProgress(percent=100)
                lease.HttpNfcLeaseComplete()
                entity.MarkAsTemplate()
                return self._info(entity)

            info = self._session.call(f"finish the import of template {name}", finish)
        except BaseException as exc:
            log.info("template %s: import failed (%s); aborting the lease and removing the partial VM", name, exc)
            self._clean_up(lease, entity, name)
            raise
        if info is None:
            raise ProviderError(f"template {name} vanished right after its import")
        return info

    def _clean_up(self, lease: Any, entity: Any, name: str) -> None:
        def run() -> None:
            try:
                lease.HttpNfcLeaseAbort()
            except Exception as exc:  # the lease may have timed out or been completed already
                log.debug("template %s: abort lease: %s", name, exc)
            self._destroy_now(entity, f"partial import {name}")

        try:
            self._session.call(f"clean up the import of template {name}", run)
        except ProviderError as exc:
            log.warning("template %s: could not clean up the partial import: %s", name, exc)

    def _import_spec(self, descriptor: str, name: str, uid: str, where: VCenterPlacement) -> tuple[Any, Any]:
        """Check the descriptor with CreateImportSpec (nothing is made yet): (the result, the placement)."""
        content, datacenter = self._session.content, self._session.datacenter()
        target = places.resolve(content, datacenter, where, ())
        datastore = target.datastore
        if datastore is None:
            stores = query.all_of_type(content, datacenter.datastoreFolder, vim.Datastore, ["name"])
            if not stores:
                raise NotFound(f"datacenter {datacenter.name} has no datastore to import into")
            datastore = stores[0][0]
        if content.searchIndex.FindChild(entity=target.folder, name=name) is not None:
            raise Conflict(f"a VM or template named {name!r} already exists and is not this image's ({uid})")
        params = _ImportParams(entityName=name, diskProvisioning="thin")
        try:
            result = content.ovfManager.CreateImportSpec(ovfDescriptor=descriptor, resourcePool=target.pool,
                                                         datastore=datastore, cisp=params)
        except vmodl.MethodFault as exc:
            raise ImportFailed(Reason.INVALID_IMAGE,
                               f"vCenter rejected the OVF descriptor: {fault_message(exc)}") from exc
        if result.error:
            messages = "; ".join(e.localizedMessage or fault_message(e.fault) for e in result.error)
            raise ImportFailed(Reason.INVALID_IMAGE, f"vCenter rejected the OVF descriptor: {messages}")
        result.importSpec.configSpec.instanceUuid = uid
        return result, target

    def _start_lease(self, result: Any, target: Any, name: str) -> tuple[Any, dict[str, str], Any]:
        """Start ImportVApp and wait for the lease: (lease, {file: upload URL}, VM)."""
        lease = target.pool.ImportVApp(spec=result.importSpec, folder=target.folder, host=target.host)
        deadline = time.monotonic() + LEASE_READY_TIMEOUT
        while lease.state == vim.HttpNfcLease.State.initializing:
            if time.monotonic() > deadline:
                lease.HttpNfcLeaseAbort()
                raise ProviderError(f"import of template {name}: the NFC lease did not become ready")
            time.sleep(0.2)
        if lease.state != vim.HttpNfcLease.State.ready:
            error = lease.error
            raise ProviderError(f"import of template {name}: {error.localizedMessage if error else lease.state}")
        info = lease.info
        urls = {u.importKey: u for u in info.deviceUrl or ()}
        files: dict[str, str] = {}
        for item in result.fileItem or ():
            device = urls.get(item.deviceId)
            if device is not None:
                files[item.path] = self._absolute(device.url)
        return lease, files, info.entity

    def _absolute(self, url: str) -> str:
        """vCenter writes `*` for "the host you are talking to"."""
        parts = urllib.parse.urlsplit(url)
        if parts.hostname == "*":
            parts = parts._replace(netloc=f"{self._session.host}:{self._session.port}")
        return urllib.parse.urlunsplit(parts)

    def _upload(self, url: str, body: _Readable, size: int, tick: Callable[[], None]) -> None:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPSConnection(parts.hostname or self._session.host, parts.port or 443,
                                                 context=self._session.ssl_context(), timeout=120)
        try:
            connection.putrequest("PUT", parts.path + (f"?{parts.query}" if parts.query else ""))
            connection.putheader("Content-Length", str(size))
            connection.putheader("Content-Type", "application/x-vnd.vmware-streamVmdk")
            cookie = getattr(self._session.stub, "cookie", None)
            if cookie:
                connection.putheader("Cookie", str(cookie))
            connection.endheaders()
            while chunk := body.read(download.CHUNK):
                connection.send(chunk)
                tick()
            response = connection.getresponse()
            response.read()
            if response.status not in {200, 201, 204}:
                raise ProviderError(f"upload to {parts.path}: HTTP {response.status} {response.reason}")
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderError(f"upload to {parts.path}: {describe(exc)}", reason=Reason.UPLOAD_FAILED) from exc
        finally:
            connection.close()
