"""TLS contexts for a vCenter connection: a CA bundle, a pinned thumbprint, or (only if asked) nothing.

Every context is built explicitly: pyVim silently disables verification for loopback hosts when it is
handed no context, which would make the tests prove nothing.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import string
from typing import Any

from herder.errors import TLSVerificationFailed
from herder.providers.types import TLSSettings

_DIGESTS = {40: "sha1", 64: "sha256"}


def normalize_thumbprint(thumbprint: str) -> tuple[str, str]:
    """(hash algorithm, lower-case hex) of a SHA-1 or SHA-256 thumbprint written with or without colons."""
    digest = thumbprint.replace(":", "").replace(" ", "").strip().lower()
    if not digest or any(ch not in string.hexdigits for ch in digest) or len(digest) not in _DIGESTS:
        raise TLSVerificationFailed(
            f"the configured thumbprint is not a SHA-1 or SHA-256 fingerprint in hex ({len(digest)} characters)"
        )
    return _DIGESTS[len(digest)], digest


class _PinnedContext(ssl.SSLContext):
    """Accepts exactly the peer certificate whose fingerprint was pinned.

    Checked on every handshake: pyVmomi's own thumbprint option downgrades the shared context to
    CERT_NONE after the first connection and never checks the pin again.
    """

    algorithm = "sha256"
    digest = ""

    def wrap_socket(self, sock: socket.socket, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        wrapped = super().wrap_socket(sock, **kwargs)
        if not kwargs.get("do_handshake_on_connect", True):
            wrapped.do_handshake()
        der = wrapped.getpeercert(binary_form=True) or b""
        actual = hashlib.new(self.algorithm, der).hexdigest()
        if actual != self.digest:
            wrapped.close()
            raise TLSVerificationFailed(
                f"the vCenter certificate's {self.algorithm.upper()} thumbprint {actual} does not match "
                f"the pinned thumbprint {self.digest}"
            )
        return wrapped


def client_context(tls: TLSSettings) -> ssl.SSLContext:
    """The context for the given settings. A thumbprint replaces the CA check unless a CA is also given."""
    if tls.insecure_skip_verify:
        insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        return insecure
    if tls.thumbprint:
        pinned = _PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
        pinned.algorithm, pinned.digest = normalize_thumbprint(tls.thumbprint)
        if tls.ca_bundle:
            pinned.load_verify_locations(cadata=tls.ca_bundle)
        else:
            pinned.check_hostname = False
            pinned.verify_mode = ssl.CERT_NONE
        return pinned
    if tls.ca_bundle:
        try:
            return ssl.create_default_context(cadata=tls.ca_bundle)
        except ssl.SSLError as exc:
            raise TLSVerificationFailed("the configured CA bundle holds no valid PEM certificate") from exc
    return ssl.create_default_context()
