"""Build a provider from an endpoint's settings. The one place controllers reach concrete backends."""

from __future__ import annotations

import os
from collections.abc import Callable

from herder.providers.base import Provider
from herder.providers.types import Credentials, TLSSettings

RequestHook = Callable[[str, bool, float], None]


def split_host_port(server: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port`, without a scheme."""
    text = server.removeprefix("https://").rstrip("/")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, default_port


def vcenter(server: str, datacenter: str, credentials: Credentials, tls: TLSSettings,
            on_request: RequestHook | None = None, *, read_only: bool = False) -> Provider:
    from herder.providers.vcenter import Session, VCenterProvider

    host, port = split_host_port(server, 443)
    session = Session(host, credentials, tls, datacenter, port=port, on_request=on_request)
    return VCenterProvider(session, max_wait_seconds=int(os.environ.get("HERDER_VCENTER_WATCH_SECONDS", "60")),
                           read_only=read_only)


def scvmm(endpoint: str, credentials: Credentials, tls: TLSSettings, *, transport: str,
          vmm_server: str | None = None, on_request: RequestHook | None = None) -> Provider:
    from herder.providers.scvmm import SCVMMProvider

    return SCVMMProvider(endpoint, credentials, tls, transport=transport, vmm_server=vmm_server,
                         inventory_interval=float(os.environ.get("HERDER_SCVMM_INVENTORY_SECONDS", "5")),
                         on_request=on_request)
