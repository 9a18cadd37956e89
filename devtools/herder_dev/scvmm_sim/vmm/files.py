"""The file cmdlets a driver runs on a library server to fetch an image into a share: Invoke-WebRequest -OutFile
(and -Method Head), Get-Item, New-Item -ItemType Directory, Get-FileHash, Test-Path, Remove-Item and
Expand-Archive (zip, the only format Windows PowerShell 5.1 expands). Paths are UNC paths into the library
shares; anything else is outside the simulator. Downloads come only from loopback, so that tests never reach
beyond the machine."""

from __future__ import annotations

import datetime as dt
import hashlib
import http
import ipaddress
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, boolean, enum, integer, list_of, string
from herder_dev.scvmm_sim.ps.errors import NotSupportedError, PSError, cmdlet_error
from herder_dev.scvmm_sim.ps.values import Hashtable, Props, PSEnum, PSObject
from herder_dev.scvmm_sim.vmm.shares import Shares
from herder_dev.scvmm_sim.vmm.state import Store

SWITCH = "System.Management.Automation.SwitchParameter"
_HASHES = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "MD5": "md5"}
ALGORITHMS = enum("System.String", *_HASHES, "MACTripleDES", "RIPEMD160")
PATH_TYPES = enum("Microsoft.PowerShell.Commands.TestPathType", "Any", "Container", "Leaf")
_CHUNK = 1 << 20
_WEB_ERROR = "WebCmdletWebResponseException,Microsoft.PowerShell.Commands.InvokeWebRequestCommand"


class Files:
    def __init__(self, store: Store) -> None:
        self.shares = Shares(store)
        self.lock = store.lock

    def local(self, path: str) -> Path:
        if any(ch in path for ch in "*?["):
            raise NotSupportedError(f"wildcards in the path {path}")
        located = self.shares.locate(path)
        if located is None:
            raise NotSupportedError(f"the path {path}: its file system holds only the library shares "
                                    "(\\\\<library server>\\<share>\\...)")
        return located.path

    def _paths(self, inv: Invocation) -> list[str]:
        return list(inv.get("LiteralPath") or inv.get("Path") or [])

    # ---- Test-Path, Remove-Item, Get-FileHash ----------------------------------------------------
    def test_path(self, inv: Invocation) -> list[Any]:
        kind = inv.get("PathType", "Any")
        out = []
        for path in self._paths(inv):
            local = self.local(path)
            out.append(local.exists() if kind == "Any" else local.is_dir() if kind == "Container"
                       else local.is_file())
        return out

    def remove_item(self, inv: Invocation) -> list[Any]:
        for path in self._paths(inv):
            local = self.local(path)
            if not local.exists():
                raise _not_found(path, "Microsoft.PowerShell.Commands.RemoveItemCommand")
            if local.is_dir():
                if any(local.iterdir()) and not inv.get("Recurse"):
                    raise NotSupportedError("Remove-Item of a non-empty directory without -Recurse (it prompts)")
                shutil.rmtree(local)
            else:
                local.unlink()
        return []

    def get_file_hash(self, inv: Invocation) -> list[Any]:
        algorithm = inv.get("Algorithm", "SHA256")
        if algorithm not in _HASHES:
            raise NotSupportedError(f"Get-FileHash -Algorithm {algorithm}")
        out = []
        for path in self._paths(inv):
            local = self.local(path)
            if not local.is_file():
                raise _not_found(path, "Microsoft.PowerShell.Commands.ResolvePathCommand")
            digest = hashlib.new(_HASHES[algorithm])
            with local.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
            out.append(PSObject("Microsoft.Powershell.Utility.FileHash", Props({
                "Algorithm": algorithm, "Hash": digest.hexdigest().upper(), "Path": path})))
        return out

    # ---- Invoke-WebRequest -----------------------------------------------------------------------
    def invoke_web_request(self, inv: Invocation) -> list[Any]:
        method = inv.get("Method", "GET").upper()
        if method == "HEAD" and not inv.has("OutFile"):
            return [self._head(inv.get("Uri"), inv.get("TimeoutSec") or 100)]
        if not inv.has("OutFile") or inv.get("PassThru"):
            raise NotSupportedError("Invoke-WebRequest without -OutFile (other than -Method Head), or with -PassThru")
        if method != "GET":
            raise NotSupportedError(f"Invoke-WebRequest -Method {inv.get('Method')} -OutFile")
        uri = inv.get("Uri")
        _check_loopback(uri)
        target = self.local(inv.get("OutFile"))
        if not target.parent.is_dir():
            raise PSError(f"Could not find a part of the path '{inv.get('OutFile')}'.",
                          error_id="System.IO.DirectoryNotFoundException,"
                                   "Microsoft.PowerShell.Commands.InvokeWebRequestCommand",
                          exception="System.IO.DirectoryNotFoundException")
        timeout = inv.get("TimeoutSec") or 100  # the .NET HttpWebRequest default
        opener = urllib.request.build_opener(_LoopbackRedirects)
        try:
            with opener.open(uri, timeout=timeout) as response, target.open("wb") as fh:
                shutil.copyfileobj(response, fh, _CHUNK)
        except urllib.error.HTTPError as exc:
            raise _web_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise _connect_error() from exc
        return []

    def _head(self, uri: str, timeout: int) -> PSObject:
        """-Method Head: the response (with -UseBasicParsing, as 5.1 returns it) without a body."""
        _check_loopback(uri)
        opener = urllib.request.build_opener(_LoopbackRedirects)
        try:
            with opener.open(urllib.request.Request(uri, method="HEAD"), timeout=timeout) as response:
                headers = Hashtable({k: v for k, v in response.headers.items()})
                status = http.HTTPStatus(response.status)
                return PSObject("Microsoft.PowerShell.Commands.BasicHtmlWebResponseObject", Props({
                    "StatusCode": response.status, "StatusDescription": status.phrase, "Headers": headers,
                    "Content": "", "RawContentLength": 0, "BaseResponse": None}))
        except urllib.error.HTTPError as exc:
            raise _web_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise _connect_error() from exc

    # ---- Get-Item, New-Item ----------------------------------------------------------------------
    def get_item(self, inv: Invocation) -> list[Any]:
        out = []
        for path in self._paths(inv):
            local = self.local(path)
            if not local.exists():
                raise _not_found(path, "Microsoft.PowerShell.Commands.GetItemCommand")
            out.append(_item(path, local))
        return out

    def new_item(self, inv: Invocation) -> list[Any]:
        """-ItemType Directory only: the directory and its parents (an existing one is refused without -Force)."""
        if str(inv.get("ItemType", "")).lower() != "directory":
            raise NotSupportedError(f"New-Item -ItemType {inv.get('ItemType') or '(none)'}: only Directory")
        out = []
        for path in inv.get("Path") or []:
            local = self.local(path)
            if local.exists() and not inv.get("Force"):
                raise cmdlet_error(f"An item with the specified name {path} already exists.",
                                   "DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand", "ResourceExists",
                                   "System.IO.IOException", path)
            if local.is_file():
                raise NotSupportedError(f"New-Item -ItemType Directory over the file {path}")
            local.mkdir(parents=True, exist_ok=True)
            out.append(_item(path, local))
        return out

    # ---- Expand-Archive --------------------------------------------------------------------------
    def expand_archive(self, inv: Invocation) -> list[Any]:
        source = inv.get("LiteralPath") or inv.get("Path")
        archive = self.local(source)
        if not archive.is_file():
            raise _archive_error(f"The path '{source}' either does not exist or is not a valid file system path.",
                                 "ArchiveCmdletPathNotFound", source)
        if archive.suffix.lower() != ".zip":
            raise _archive_error(f"{archive.suffix} is not a supported archive file format. .zip is the only "
                                 "supported archive file format.", "NotSupportedArchiveFileExtension",
                                 archive.suffix, "System.IO.IOException")
        destination_text = inv.get("DestinationPath") or source.rsplit("\\", 1)[0]
        destination = self.local(destination_text)
        existing: list[PSError] = []
        with zipfile.ZipFile(archive) as zf:
            for entry in zf.infolist():
                parts = Path(entry.filename.replace("\\", "/")).parts
                if any(p in ("..", "/") for p in parts):
                    raise NotSupportedError(f"the archive entry {entry.filename}, which leaves the destination")
                target = destination.joinpath(*parts)
                if entry.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if target.exists() and not inv.get("Force"):
                    existing.append(_exists(destination_text + "\\" + "\\".join(parts), source))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(entry) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
        if existing:
            raise existing[0]  # written with Write-Error, after every other entry was expanded
        return []

    # ---- the table -------------------------------------------------------------------------------
    def cmdlets(self) -> list[Cmdlet]:
        paths = (Param("Path", "System.String[]", list_of(string), position=0, pipeline=True),
                 Param("LiteralPath", "System.String[]", list_of(string), aliases=("PSPath",)))
        return [
            Cmdlet("Test-Path", (*paths, Param("PathType", "Microsoft.PowerShell.Commands.TestPathType",
                                                PATH_TYPES, aliases=("Type",))),
                   self.test_path, exclusive=(("Path", "LiteralPath"),)),
            Cmdlet("Remove-Item", (*paths, Param("Force", SWITCH, boolean, switch=True),
                                   Param("Recurse", SWITCH, boolean, switch=True)),
                   self.remove_item, exclusive=(("Path", "LiteralPath"),)),
            Cmdlet("Get-Item", (*paths, Param("Force", SWITCH, boolean, switch=True)), self.get_item,
                   exclusive=(("Path", "LiteralPath"),)),
            Cmdlet("New-Item", (Param("Path", "System.String[]", list_of(string), position=0),
                                Param("ItemType", convert=string, aliases=("Type",)),
                                Param("Force", SWITCH, boolean, switch=True)), self.new_item),
            Cmdlet("Get-FileHash", (*paths, Param("Algorithm", convert=ALGORITHMS)), self.get_file_hash,
                   exclusive=(("Path", "LiteralPath"),)),
            Cmdlet("Invoke-WebRequest", (
                Param("Uri", "System.Uri", string, mandatory=True, position=0),
                Param("OutFile", convert=string), Param("Method", convert=string),
                Param("TimeoutSec", "System.Int32", integer),
                Param("UseBasicParsing", SWITCH, boolean, switch=True),
                Param("PassThru", SWITCH, boolean, switch=True),
            ), self.invoke_web_request),
            Cmdlet("Expand-Archive", (
                Param("Path", convert=string, position=0), Param("LiteralPath", convert=string, aliases=("PSPath",)),
                Param("DestinationPath", convert=string, position=1), Param("Force", SWITCH, boolean, switch=True),
            ), self.expand_archive, exclusive=(("Path", "LiteralPath"),)),
        ]



class _LoopbackRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects as .NET does, but only to loopback."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,  # noqa: PLR0917 (the stdlib signature)
                         newurl: str) -> urllib.request.Request | None:
        _check_loopback(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _check_loopback(uri: str) -> None:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("http", "https"):
        raise NotSupportedError(f"Invoke-WebRequest of {uri}: only http and https")
    host = (parsed.hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotSupportedError(f"fetching from {host or uri}: the simulator downloads only from loopback "
                                "(localhost, 127.0.0.0/8, ::1)")


def _item(path: str, local: Path) -> PSObject:
    """A FileInfo or DirectoryInfo, as the FileSystem provider gives it."""
    stat = local.stat()
    props: dict[str, Any] = {"Name": local.name, "FullName": path, "Exists": True, "PSIsContainer": local.is_dir(),
                             "LastWriteTime": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)}
    if local.is_dir():
        return PSObject("System.IO.DirectoryInfo", Props(props), display=local.name)
    props |= {"Length": stat.st_size, "Extension": local.suffix, "DirectoryName": path.rsplit("\\", 1)[0]}
    return PSObject("System.IO.FileInfo", Props(props), display=local.name)


def _connect_error() -> PSError:
    err = PSError("Unable to connect to the remote server", error_id=_WEB_ERROR, category="InvalidOperation",
                  exception="System.Net.WebException", target="System.Net.HttpWebRequest")
    err.exception_props = {"Response": None, "Status": "ConnectFailure"}
    return err


def _web_error(exc: urllib.error.HTTPError) -> PSError:
    """A non-success status: 5.1 raises a WebException whose message is the body, or the status line if empty."""
    body = exc.read().decode("utf-8", "replace").strip()
    try:
        status = http.HTTPStatus(exc.code)
        phrase, enum_name = status.phrase, status.phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        phrase, enum_name = str(exc.reason), str(exc.code)
    message = body or f"The remote server returned an error: ({exc.code}) {phrase}."
    err = PSError(message, error_id=_WEB_ERROR, category="InvalidOperation", exception="System.Net.WebException",
                  target="System.Net.HttpWebRequest")
    err.exception_props = {"Status": "ProtocolError", "Response": PSObject("System.Net.HttpWebResponse", Props({
        "StatusCode": PSEnum("System.Net.HttpStatusCode", enum_name, exc.code), "StatusDescription": phrase,
        "ResponseUri": exc.url}))}
    return err


def _not_found(path: str, command_class: str) -> PSError:
    return cmdlet_error(f"Cannot find path '{path}' because it does not exist.", f"PathNotFound,{command_class}",
                        "ObjectNotFound", "System.Management.Automation.ItemNotFoundException", path)


def _archive_error(message: str, error_id: str, target: str,
                   exception: str = "System.InvalidOperationException") -> PSError:
    return PSError(message, error_id=f"{error_id},Expand-Archive", category="InvalidArgument", exception=exception,
                   target=target)


def _exists(path: str, archive: str) -> PSError:
    return cmdlet_error(f"Failed to create file '{path}' while expanding the archive file '{archive}' contents as the "
                  f"file '{path}' already exists. Use the -Force parameter if you want to overwrite the existing "
                        f"directory '{path}' contents when expanding the archive file.",
                        "ExpandArchiveFileExists,Expand-Archive", "InvalidOperation", "System.IO.IOException", path)
