"""Fetching an image into a library share with the PowerShell a driver runs on the library server."""

from __future__ import annotations

import functools
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_vmm import HEAD, ps_json

from conftest import LIBRARY, Sim, share_dir
from herder_dev.scvmm_sim.vmm.diskfile import write_vhdx


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/away":  # a redirect off the machine
            self.send_response(302)
            self.send_header("Location", "http://images.example.com/a.vhdx")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving a directory: (base URL, directory)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_hash_refresh_and_remove(sim: Sim, web: tuple[str, Path]) -> None:
    url, root = web
    write_vhdx(root / "ubuntu.vhdx", 4 * 1024**3)
    expected = hashlib.sha256((root / "ubuntu.vhdx").read_bytes()).hexdigest().upper()
    target = LIBRARY + "\\ubuntu.vhdx"
    out = ps_json(sim, HEAD + f"$before = Test-Path -Path '{target}'\n"
                  f"Invoke-WebRequest -Uri '{url}/ubuntu.vhdx' -OutFile '{target}' -UseBasicParsing\n"
                  f"$h = Get-FileHash -Algorithm SHA256 -Path '{target}'\n"
                  "$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)\n"
                  "$vhd = Get-SCVirtualHardDisk -Name 'UBUNTU.vhdx'\n"
                  f"[pscustomobject]@{{ Before = $before; After = (Test-Path '{target}'); Hash = $h.Hash; "
                  "Algorithm = $h.Algorithm; Path = $h.Path; Max = $vhd.MaximumSize } | ConvertTo-Json -Compress")
    assert out == {"Before": False, "After": True, "Hash": expected, "Algorithm": "SHA256", "Path": target,
                   "Max": 4 * 1024**3}
    assert (share_dir(sim) / "ubuntu.vhdx").read_bytes() == (root / "ubuntu.vhdx").read_bytes()
    gone = ps_json(sim, HEAD + f"Remove-Item -Path '{target}'\n"
                   f"ConvertTo-Json -Compress -InputObject @((Test-Path -LiteralPath '{target}' -PathType Leaf), "
                   f"(Test-Path '{LIBRARY}' -PathType Container))")
    assert gone == [False, True]


def test_a_404_raises_the_web_exception_invoke_webrequest_raises(sim: Sim, web: tuple[str, Path]) -> None:
    url, _ = web
    out = ps_json(sim, HEAD + f"try {{ Invoke-WebRequest -Uri '{url}/missing.vhdx' -OutFile '{LIBRARY}\\m.vhdx' }}\n"
                  "catch { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Code = [int]$_.Exception.Response."
                  "StatusCode; Name = [string]$_.Exception.Response.StatusCode; "
                  "Reason = $_.CategoryInfo.Reason } | ConvertTo-Json -Compress }")
    assert out == {"Id": "WebCmdletWebResponseException,Microsoft.PowerShell.Commands.InvokeWebRequestCommand",
                   "Code": 404, "Name": "NotFound", "Reason": "WebException"}
    assert not (share_dir(sim) / "m.vhdx").exists()
    r = sim.ps(HEAD + f"Invoke-WebRequest -Uri 'http://127.0.0.1:1/x.vhdx' -OutFile '{LIBRARY}\\x.vhdx'")
    assert r.status_code == 1 and b"Unable to connect to the remote server" in r.std_err


@pytest.mark.parametrize(("script", "expected"), [
    (f"Invoke-WebRequest -Uri 'http://images.example.com/a.vhdx' -OutFile '{LIBRARY}\\a.vhdx'",
     "downloads only from loopback"),
    ("Invoke-WebRequest -Uri 'http://127.0.0.1/a.vhdx' -OutFile 'C:\\Temp\\a.vhdx'", "holds only the library shares"),
    ("Test-Path '\\\\otherhost\\MSSCVMMLibrary\\a.vhdx'", "holds only the library shares"),
    (f"Get-FileHash -Path '{LIBRARY}\\*.vhdx'", "wildcards"),
])
def test_outside_the_simulator_is_refused(sim: Sim, script: str, expected: str) -> None:
    r = sim.ps(HEAD + script)
    assert r.status_code == 1 and expected.encode() in r.std_err


def test_a_redirect_off_loopback_is_refused(sim: Sim, web: tuple[str, Path]) -> None:
    url, _ = web
    r = sim.ps(HEAD + f"Invoke-WebRequest -Uri '{url}/away' -OutFile '{LIBRARY}\\a.vhdx'")
    assert r.status_code == 1 and b"downloads only from loopback" in r.std_err
    assert not (share_dir(sim) / "a.vhdx").exists()


def test_missing_files(sim: Sim) -> None:
    out = ps_json(sim, HEAD + "$ErrorActionPreference = 'Continue'\n"
                  f"$a = try {{ Get-FileHash -Path '{LIBRARY}\\none.vhdx' -ErrorAction Stop }} catch "
                  "{ $_.FullyQualifiedErrorId }\n"
                  f"$b = try {{ Remove-Item -Path '{LIBRARY}\\none.vhdx' -ErrorAction Stop }} catch "
                  "{ $_.FullyQualifiedErrorId }\n"
                  "ConvertTo-Json -Compress -InputObject @($a, $b)")
    assert out == ["PathNotFound,Microsoft.PowerShell.Commands.ResolvePathCommand",
                   "PathNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand"]


def test_expand_archive_unzips_into_the_share(sim: Sim, web: tuple[str, Path]) -> None:
    url, root = web
    write_vhdx(root / "disk.vhdx", 1024**3)
    with zipfile.ZipFile(root / "image.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(root / "disk.vhdx", "image/disk.vhdx")
    (root / "image.vhdx.gz").write_bytes(b"\x1f\x8b")
    download = (f"Invoke-WebRequest -Uri '{url}/image.zip' -OutFile '{LIBRARY}\\image.zip'\n"
                f"Expand-Archive -Path '{LIBRARY}\\image.zip' -DestinationPath '{LIBRARY}\\unpacked'\n")
    ps_json(sim, HEAD + download + "'{}'")
    assert (share_dir(sim) / "unpacked" / "image" / "disk.vhdx").read_bytes() == (root / "disk.vhdx").read_bytes()
    again = ps_json(sim, HEAD + f"try {{ Expand-Archive -Path '{LIBRARY}\\image.zip' -DestinationPath "
                    f"'{LIBRARY}\\unpacked' -ErrorAction Stop }} catch {{ $_.FullyQualifiedErrorId | ConvertTo-Json }}")
    assert again == "ExpandArchiveFileExists,Expand-Archive"
    ps_json(sim, HEAD + f"Expand-Archive '{LIBRARY}\\image.zip' '{LIBRARY}\\unpacked' -Force\n'{{}}'")
    gz = ps_json(sim, HEAD + f"Invoke-WebRequest -Uri '{url}/image.vhdx.gz' -OutFile '{LIBRARY}\\image.vhdx.gz'\n"
                 f"try {{ Expand-Archive -Path '{LIBRARY}\\image.vhdx.gz' -DestinationPath '{LIBRARY}' }} "
                 "catch { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Message = $_.Exception.Message } | "
                 "ConvertTo-Json -Compress }")
    assert gz == {"Id": "NotSupportedArchiveFileExtension,Expand-Archive",
                  "Message": ".gz is not a supported archive file format. .zip is the only supported archive file "
                             "format."}


def test_head_gives_the_length_and_get_item_the_size_so_far(sim: Sim, web: tuple[str, Path]) -> None:
    url, root = web
    (root / "disk.vhdx").write_bytes(b"x" * 12345)
    out = ps_json(sim, HEAD + f"$r = Invoke-WebRequest -Uri '{url}/disk.vhdx' -Method Head -UseBasicParsing\n"
                  f"$d = New-Item -ItemType Directory -Path '{LIBRARY}\\img\\a'\n"
                  f"Invoke-WebRequest -Uri '{url}/disk.vhdx' -OutFile '{LIBRARY}\\img\\a\\disk.vhdx'\n"
                  f"$f = Get-Item -LiteralPath '{LIBRARY}\\img\\a\\disk.vhdx'\n"
                  "[pscustomobject]@{ Status = $r.StatusCode; Length = [long]$r.Headers['Content-Length']; "
                  "Dir = $d.PSIsContainer; Size = $f.Length; Name = $f.Name } | ConvertTo-Json -Compress")
    assert out == {"Status": 200, "Length": 12345, "Dir": True, "Size": 12345, "Name": "disk.vhdx"}
    failed = ps_json(sim, HEAD + f"$a = try {{ Invoke-WebRequest -Uri '{url}/none.vhdx' -Method Head }} catch "
                     "{ [int]$_.Exception.Response.StatusCode }\n"
                     f"$b = try {{ Get-Item -LiteralPath '{LIBRARY}\\none.vhdx' }} catch "
                     "{ $_.FullyQualifiedErrorId }\n"
                     f"$c = try {{ New-Item -ItemType Directory -Path '{LIBRARY}\\img' }} catch "
                     "{ $_.FullyQualifiedErrorId }\n"
                     f"$null = New-Item -ItemType Directory -Path '{LIBRARY}\\img' -Force\n"
                     "ConvertTo-Json -Compress -InputObject @($a, $b, $c)")
    assert failed == [404, "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand",
                      "DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand"]
