"""Translate pyVmomi faults and transport errors into herder's ProviderError family.

vCenter's own message is kept: it is usually the most actionable text a user will see (admission
control, permissions, a missing template).
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from typing import Any

from pyVmomi import vim, vmodl

from herder.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    ProviderError,
    Refused,
    TLSVerificationFailed,
    Unreachable,
    describe,
)
from herder.reasons import Reason

log = logging.getLogger(__name__)


def fault_message(fault: Any) -> str:
    """vCenter's localized text for a fault, else its type name."""
    text = getattr(fault, "msg", None) or getattr(fault, "localizedMessage", None)
    if not text:
        text = "; ".join(m.message for m in getattr(fault, "faultMessage", None) or [] if m.message)
    return str(text) if text else type(fault).__name__.rsplit(".", 1)[-1]


def fault_name(fault: Any) -> str:
    return type(fault).__name__.rsplit(".", 1)[-1]


def translate(exc: BaseException, action: str) -> ProviderError:
    """The ProviderError for `exc`, raised while doing `action` (e.g. "clone VM web-0")."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSVerificationFailed(
            f"{action}: the vCenter certificate is not trusted by the configured CA bundle ({exc.verify_message})"
        )
    if isinstance(exc, vim.fault.InvalidLogin | vim.fault.NotAuthenticated):
        return AuthenticationFailed(f"{action}: {fault_message(exc)}")
    if isinstance(exc, vmodl.fault.ManagedObjectNotFound):
        return NotFound(f"{action}: the object no longer exists in vCenter")
    if isinstance(exc, vim.fault.DuplicateName):
        return Conflict(f"{action}: {fault_message(exc)}")
    if isinstance(exc, vim.fault.NoPermission):
        return ProviderError(f"{action}: {fault_message(exc)}", reason=Reason.PERMISSION_DENIED)
    if isinstance(exc, vim.fault.InsufficientResourcesFault):
        return ProviderError(f"{action}: {fault_message(exc)}", reason=Reason.INSUFFICIENT_RESOURCES)
    if isinstance(exc, vim.fault.FileNotFound):
        return NotFound(f"{action}: {fault_message(exc)}")
    if isinstance(exc, vim.fault.VimFault):  # a checked fault: vCenter refused what it was asked
        return Refused(f"{action}: {fault_name(exc)}: {fault_message(exc)}")
    if isinstance(exc, vmodl.MethodFault):
        return ProviderError(f"{action}: {fault_name(exc)}: {fault_message(exc)}")
    if isinstance(exc, ssl.SSLError | ConnectionError | socket.timeout | http.client.HTTPException | OSError):
        return Unreachable(f"{action}: cannot reach vCenter: {describe(exc)}")
    log.warning("%s failed unexpectedly", action, exc_info=exc)
    return ProviderError(f"{action}: {describe(exc)}")
