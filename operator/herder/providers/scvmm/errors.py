"""Translate pywinrm, HTTP and VMM failures into herder's ProviderError family.

VMM's own text is kept (it names the object and the reason); the error ID it ends with decides the
class: 801 is NotFound, 1600 (the object is used by another job) is a retryable Busy, and any other ID is VMM
refusing what it was asked (Refused). Only these documented IDs are relied on (see docs/scvmm.md).
"""

from __future__ import annotations

import logging
import re
import ssl

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from herder.errors import (
    AddressUnavailable,
    AuthenticationFailed,
    NotFound,
    ProviderError,
    Refused,
    TLSVerificationFailed,
    Unreachable,
    describe,
)
from herder.reasons import Reason

log = logging.getLogger(__name__)
NOT_FOUND = 801
BUSY = 1600
# The static IP pool has no free address; the address is taken (the simulator's IDs: the reference has none).
ADDRESS_UNAVAILABLE = frozenset({21432, 21433})
_ERROR_ID = re.compile(r"\(Error ID: (\d+)\)")


class Busy(ProviderError):
    """VMM error 1600: another job holds the object. Retried by the driver, then by the controller."""

    reason = Reason.BACKEND_BUSY


def error_id(message: str) -> int | None:
    """The VMM error ID a CarmineException message ends with, if any."""
    found = _ERROR_ID.findall(message)
    return int(found[-1]) if found else None


def vmm_error(message: str, vmm_id: int | None, action: str) -> ProviderError:
    """The ProviderError for a VMM error reported by a script."""
    text = f"{action}: {message}"
    if vmm_id == NOT_FOUND:
        return NotFound(text)
    if vmm_id == BUSY:
        return Busy(text)
    if vmm_id in ADDRESS_UNAVAILABLE:
        return AddressUnavailable(text)
    if vmm_id is not None:
        return Refused(text)
    return ProviderError(text)


def _cert_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate error inside requests' and urllib3's wrappers: walk the chain, not the text."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        stack.extend(x for x in linked if isinstance(x, BaseException))
    return None


def translate(exc: BaseException, action: str, endpoint: str, username: str) -> ProviderError:
    """The ProviderError for a transport failure while doing `action`. Never includes the password."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, InvalidCredentialsError):
        return AuthenticationFailed(f"{action}: SCVMM {endpoint} rejected the credentials of user {username!r}")
    if isinstance(exc, requests.exceptions.SSLError):
        cert = _cert_failure(exc)
        if cert is not None or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            detail = cert.verify_message if cert is not None else "certificate verify failed"
            return TLSVerificationFailed(
                f"{action}: the certificate of SCVMM {endpoint} is not trusted by the configured CA bundle ({detail})"
            )
        return Unreachable(f"{action}: TLS with SCVMM {endpoint} failed: {describe(exc)}")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | OSError):
        return Unreachable(f"{action}: cannot reach SCVMM {endpoint}: {describe(exc)}")
    if isinstance(exc, WinRMOperationTimeoutError):
        return Unreachable(f"{action}: SCVMM {endpoint} did not answer within the WinRM operation timeout")
    if isinstance(exc, WSManFaultError):
        return ProviderError(f"{action}: WinRM fault {exc.wsman_fault_code or exc.code}: {exc.reason}")
    if isinstance(exc, WinRMTransportError):
        return ProviderError(f"{action}: WinRM HTTP {exc.code} from SCVMM {endpoint}")
    if isinstance(exc, WinRMError):
        return ProviderError(f"{action}: WinRM error: {exc}")
    log.warning("%s failed unexpectedly", action, exc_info=exc)
    return ProviderError(f"{action}: {describe(exc)}")
