"""What a backend connection is built from, read off a VCenter or SCVMM object. A change of `settings` or
of the credentials rebuilds the connection."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from herder import metrics
from herder.api import SCVMM, SecretRef, VCenter
from herder.providers import factory
from herder.providers.base import Provider
from herder.providers.factory import RequestHook
from herder.providers.types import Credentials, EndpointInfo, TLSSettings


@dataclass(frozen=True)
class Endpoint:
    kind: str
    credentials: SecretRef
    settings: Hashable
    build: Callable[[Credentials], Provider]
    status_fields: Callable[[EndpointInfo], dict[str, Any]]


def vcenter(body: dict[str, Any], *, on_request: RequestHook | None = None, read_only: bool = False) -> Endpoint:
    """`on_request`: counts the backend's requests (default: herder's metrics); `read_only`: for herder plan."""
    spec = VCenter.model_validate(body).spec
    tls = TLSSettings(ca_bundle=spec.tls.ca_bundle, thumbprint=spec.tls.thumbprint,
                      insecure_skip_verify=spec.tls.insecure_skip_verify)

    def build(credentials: Credentials) -> Provider:
        return factory.vcenter(spec.server, spec.datacenter, credentials, tls,
                               on_request=on_request or metrics.backend_request_hook("vcenter"), read_only=read_only)

    return Endpoint("VCenter", spec.credentials_secret_ref, (spec.server, spec.datacenter, tls), build,
                    lambda info: {"version": info.version, "instanceUUID": info.instance_uuid})


def scvmm(body: dict[str, Any], *, on_request: RequestHook | None = None) -> Endpoint:
    """`on_request`: counts the backend's requests (default: herder's metrics). Its reads change nothing."""
    spec = SCVMM.model_validate(body).spec
    tls = TLSSettings(ca_bundle=spec.tls.ca_bundle, insecure_skip_verify=spec.tls.insecure_skip_verify)
    transport = spec.transport.value

    def build(credentials: Credentials) -> Provider:
        return factory.scvmm(spec.endpoint, credentials, tls, transport=transport, vmm_server=spec.vmm_server,
                             on_request=on_request or metrics.backend_request_hook("scvmm"))

    return Endpoint("SCVMM", spec.credentials_secret_ref, (spec.endpoint, transport, spec.vmm_server, tls), build,
                    lambda info: {"version": info.version})
