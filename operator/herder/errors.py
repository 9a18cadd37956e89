"""Typed errors. Each carries the condition reason users see; what to do about it is asked of its type or of
its reason's properties (`herder.reasons`), never of the reason's spelling."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from collections.abc import Iterator

from herder.reasons import Reason


class HerderError(Exception):
    """Why an object cannot progress right now. The message is for people and names no secret."""

    reason: Reason = Reason.BACKEND_ERROR

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


# -- the backend ------------------------------------------------------------------------------------------------

class ProviderError(HerderError):
    """A backend call failed."""


class AuthenticationFailed(ProviderError):
    reason = Reason.AUTHENTICATION_FAILED


class TLSVerificationFailed(ProviderError):
    reason = Reason.TLS_VERIFICATION_FAILED


class Unreachable(ProviderError):
    reason = Reason.UNREACHABLE


class NotFound(ProviderError):
    reason = Reason.NOT_FOUND


class Conflict(ProviderError):
    """More than one backend object claims the same identity: never guess which one is ours."""

    reason = Reason.IDENTITY_CONFLICT


class NotSupported(ProviderError):
    """The backend cannot do what the spec asks; the message says what and where."""

    reason = Reason.NOT_SUPPORTED


class Refused(ProviderError):
    """The backend refused the operation when asked (not a task that failed later): a state it does not allow,
    a host in maintenance, capacity a cloud does not have. The step failed, with the backend's own words."""


class OutsideZone(ProviderError):
    """A pinned host, datastore or storage path is not one of the server's zone."""

    reason = Reason.PLACEMENT_NOT_IN_ZONE


class InUse(ProviderError):
    """The backend object still holds something (a pool with VMs or child pools)."""

    reason = Reason.IN_USE


class AddressUnavailable(ProviderError):
    """A static address is taken, or its pool has none left: nothing was made; it may be free later."""

    reason = Reason.ADDRESS_UNAVAILABLE


class ImportFailed(ProviderError):
    """An image import failed for a reason in the image itself or its URL, not the backend:
    DownloadFailed, UploadFailed, ChecksumMismatch, InvalidImage or ImportCancelled."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message, reason=reason)


# -- the objects herder reconciles -------------------------------------------------------------------------------

class Unresolvable(HerderError):
    """A reference cannot be followed yet, or the spec asks for something this object cannot have."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message, reason=reason)


class ProviderNotReady(Unresolvable):
    """The backend connection an object needs is not (yet) up; it wakes its waiters when it connects."""

    def __init__(self, message: str, *, reason: Reason = Reason.PROVIDER_NOT_READY) -> None:
        super().__init__(reason, message)


class KubernetesUnavailable(HerderError):
    """herder's own connection to the Kubernetes API failed (a restart, a load balancer switching over): nothing
    is wrong with the object, so it changes no status and is retried within a second or two."""

    reason = Reason.KUBERNETES_ERROR


class KubernetesForbidden(KubernetesUnavailable):
    """The Kubernetes API refused herder's own status write (403). An API server that has just restarted does so
    for a moment while its authorizer catches up; for longer, herder's RBAC or an admission policy refuses it."""


class SecretUnavailable(HerderError):
    """A referenced Secret or key is missing or unreadable. The message names the reference, never the contents."""

    reason = Reason.CREDENTIALS_UNAVAILABLE


class CaptureFailed(HerderError):
    """An image capture's clone failed on the backend."""

    reason = Reason.CAPTURE_FAILED


class QuotaExceeded(HerderError):
    """A namespace's ServerQuota does not admit what an object asks for; the message has the numbers."""

    reason = Reason.QUOTA_EXCEEDED


# -- plain words for what failed below herder --------------------------------------------------------------------

def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps (causes, contexts, and the `reason` or arguments client libraries nest), outermost
    first, each once."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        queue.extend(x for x in nested if isinstance(x, BaseException))


def describe(exc: BaseException) -> str:
    """A network, TLS or HTTP client failure in plain words, for a condition message: what the innermost
    telling cause says (connection refused, host name not found, timed out, certificate not trusted), never a
    Python type name, an object address or a dump of the client library's wrappers."""
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the certificate is not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake failed ({(cause.reason or 'no reason given').lower().replace('_', ' ')})"
        if isinstance(cause, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(cause, TimeoutError):
            return "it timed out"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(cause, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return "the connection was closed by the other end"
        if isinstance(cause, http.client.IncompleteRead):
            return "the connection closed before all the data arrived"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
    return "an unexpected error (details in herder's log)"
