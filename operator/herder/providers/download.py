"""Fetching image files over HTTP(S), backend-neutral: streamed, hashed and counted while read, never held
whole in memory; small files (descriptors, manifests) whole; a package's SHA-256 manifest. Failures are
ImportFailed (the file or URL is at fault), never a backend error."""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from typing import IO

from herder.errors import ImportFailed, describe
from herder.reasons import Reason

CHUNK = 1024 * 1024
MAX_DESCRIPTOR = 16 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30.0


class HashingReader:
    """A file-like view of an HTTP response that hashes and counts every byte read."""

    def __init__(self, response: IO[bytes], url: str) -> None:
        self._response = response
        self._url = url
        self.sha256 = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._response.read(size if size is not None and size >= 0 else CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            raise ImportFailed(Reason.DOWNLOAD_FAILED,
                               f"reading {self._url} failed after {self.count} bytes: {describe(exc)}") from exc
        self.sha256.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def without_userinfo(url: str) -> str:
    """The URL without any user name or password in it: what may be shown and logged."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def open_url(url: str) -> tuple[IO[bytes], int]:
    """(the response, its Content-Length or 0). Raises ImportFailed(DownloadFailed)."""
    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT)  # noqa: S310 - http(s) only (API pattern)
    except urllib.error.HTTPError as exc:
        raise ImportFailed(Reason.DOWNLOAD_FAILED, f"GET {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise ImportFailed(Reason.DOWNLOAD_FAILED, f"GET {url}: {describe(exc)}") from exc
    except ValueError as exc:  # not a URL urllib can open (the API admits http(s) URLs only)
        raise ImportFailed(Reason.DOWNLOAD_FAILED, f"GET {url}: not a URL that can be fetched") from exc
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else 0


class Counting:
    """Adds what is read to a shared counter (bytes sent across all of a package's files, for progress)."""

    def __init__(self, reader: HashingReader, counter: list[int]) -> None:
        self._reader = reader
        self._counter = counter

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size)
        self._counter[0] += len(data)
        return data


def fetch_small(url: str, what: str) -> bytes:
    """A small file (a descriptor or manifest), whole. Raises ImportFailed."""
    response, _ = open_url(url)
    try:
        data = response.read(MAX_DESCRIPTOR + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise ImportFailed(Reason.DOWNLOAD_FAILED, f"reading {url} failed: {describe(exc)}") from exc
    finally:
        response.close()
    if len(data) > MAX_DESCRIPTOR:
        raise ImportFailed(Reason.INVALID_IMAGE, f"{url}: {what} is larger than {MAX_DESCRIPTOR // 2**20} MiB")
    return data


def manifest(descriptor_url: str) -> dict[str, str]:
    """{file: sha256 hex} from the package's manifest beside the descriptor; {} when none is published.

    Lines look like `SHA256(disk1.vmdk)= <hex>`; SHA-1 lines (older packages) are not trusted and skipped.
    """
    parts = urllib.parse.urlsplit(descriptor_url)
    stem = parts.path.rsplit(".", 1)[0]
    url = urllib.parse.urlunsplit(parts._replace(path=stem + ".mf"))
    try:
        text = fetch_small(url, "the manifest").decode("utf-8", errors="replace")
    except ImportFailed as exc:
        if isinstance(exc.__cause__, urllib.error.HTTPError) and exc.__cause__.code == 404:
            return {}
        raise
    found: dict[str, str] = {}
    for line in text.splitlines():
        algorithm, _, rest = line.partition("(")
        path, _, digest = rest.partition(")=")
        if algorithm.strip().upper() == "SHA256" and path and digest.strip():
            found[path.strip()] = digest.strip().lower()
    return found
