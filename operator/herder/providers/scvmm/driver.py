"""The SCVMM driver: runs scripts on the WinRM host and turns their answers into values or ProviderErrors.

One driver per purpose (servers, inventory), each with its own PowerShell process so that a long job wait
never delays a drift read; they share the TLS material and the request meter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from typing import Any
from urllib.parse import urlparse

from herder.errors import ProviderError
from herder.providers.scvmm import results, scripts
from herder.providers.scvmm.errors import Busy, translate, vmm_error
from herder.providers.scvmm.shell import Meter, PowerShell
from herder.providers.types import Credentials, EndpointInfo, TLSSettings
from herder.reasons import Reason

log = logging.getLogger(__name__)

# Bounded backoff for VMM error 1600 (the object is used by another job).
BUSY_DELAYS = (0.5, 1.0, 2.0)
_TRANSPORTS = {"ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp", "basic": "ssl"}
# Time for the WinRM round trips of a script on top of the VMM jobs it waits for.
_SCRIPT_MARGIN = 120.0


class CATrust:
    """The CA bundle as the file pywinrm needs; removed on close."""

    def __init__(self, tls: TLSSettings) -> None:
        if tls.thumbprint and not tls.ca_bundle and not tls.insecure_skip_verify:
            raise ProviderError(
                "SCVMM: certificate thumbprint pinning is not supported over WinRM; configure a CA bundle",
                reason=Reason.TLS_VERIFICATION_FAILED,
            )
        self.path: str | None = None
        if tls.ca_bundle and not tls.insecure_skip_verify:
            fd, self.path = tempfile.mkstemp(prefix="herder-scvmm-ca-", suffix=".pem")
            with os.fdopen(fd, "w") as fh:
                fh.write(tls.ca_bundle)
        self.validation = "ignore" if tls.insecure_skip_verify else "validate"

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None


def protocol_options(endpoint_url: str, credentials: Credentials, trust: CATrust, transport: str) -> dict[str, Any]:
    """The keyword arguments of winrm.protocol.Protocol for this endpoint."""
    if transport not in _TRANSPORTS:
        raise ProviderError(f"SCVMM: unknown WinRM transport {transport!r}")
    if transport == "basic" and urlparse(endpoint_url).scheme != "https":
        raise ProviderError("SCVMM: Basic authentication is only allowed over https")
    return {
        "endpoint": endpoint_url,
        "transport": _TRANSPORTS[transport],
        "username": credentials.username,
        "password": credentials.password,
        "server_cert_validation": trust.validation,
        # None: the system store, never CA paths from the environment.
        "ca_trust_path": trust.path,
    }


def redacted(exc: ProviderError, secrets: tuple[str, ...]) -> ProviderError:
    """`exc`, or the same kind of error whose message has every secret (as given, or quoted) replaced."""
    text = str(exc)
    for secret in sorted(secrets, key=len, reverse=True):
        for form in (secret, scripts.quote(secret)[1:-1]):
            text = text.replace(form, "***")
    if text == str(exc):
        return exc
    return type(exc)(text, reason=exc.reason)


class Driver:
    """Runs one script at a time on its own PowerShell process. Thread-safe."""

    def __init__(
        self,
        endpoint_url: str,
        credentials: Credentials,
        options: dict[str, Any],
        meter: Meter,
        *,
        vmm_server: str | None = None,
        job_timeout: float = 600.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.job_timeout = job_timeout
        self.vmm_server = vmm_server
        self._username = credentials.username
        self._meter = meter
        self._shell = PowerShell(meter, options)
        self._connected = threading.Event()

    def request_counts(self) -> dict[str, int]:
        """WinRM requests made so far, per operation (all drivers of the provider together)."""
        return self._meter.counts()

    def run(self, operation: str, action: str, body: str, *, secrets: tuple[str, ...] = ()) -> Any:
        """Run `body` (which sets `$result`) and return the result. Raises ProviderError subclasses.

        Busy (VMM 1600) is retried a few times with backoff; every script is written to be safe to repeat.
        `secrets`: values the script carries (from Secrets) that an error message must never repeat.
        """
        with self._meter.operation(operation):
            for delay in (*BUSY_DELAYS, None):
                try:
                    return self._run_once(action, body)
                except Busy as exc:
                    if delay is None:
                        raise redacted(exc, secrets) from None
                    log.info("SCVMM busy, retrying in %.1fs: %s", delay, redacted(exc, secrets))
                    time.sleep(delay)
                except ProviderError as exc:
                    raise redacted(exc, secrets) from None
        raise AssertionError("unreachable")

    def _run_once(self, action: str, body: str) -> Any:
        if self.vmm_server and not self._connected.is_set():
            # Later VMM cmdlets use this connection as their default server.
            body = f"$null = Get-SCVMMServer -ComputerName {scripts.quote(self.vmm_server)}\n{body}"
        try:
            stdout, stderr = self._shell.run(
                lambda marker: scripts.wrap(body, marker), self.job_timeout + _SCRIPT_MARGIN
            )
        except Exception as exc:
            self._connected.clear()
            raise translate(exc, action, self.endpoint_url, self._username) from exc
        answer = results.parse(stdout, stderr)
        if not answer.ok:
            raise vmm_error(answer.message, answer.vmm_id, action)
        self._connected.set()
        return answer.result

    def unanswered(self) -> float | None:
        return self._meter.liveness.unanswered()

    def info(self) -> EndpointInfo:
        server = scripts.quote(self.vmm_server or "localhost")
        found = self.run(
            "info",
            "describe the SCVMM server",
            f"$s = Get-SCVMMServer -ComputerName {server}\n"
            "$result = @{ version = [string]$s.ProductVersion; name = [string]$s.FQDN }",
        )
        return EndpointInfo(
            version=str(found["version"]),
            instance_uuid=str(found["name"]),
            product="System Center Virtual Machine Manager",
        )

    def close(self) -> None:
        self._shell.close()
        self._connected.clear()
