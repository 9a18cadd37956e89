"""References and settings several herder kinds share: Secrets, objects, providers, TLS, deletion policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from herder.api.metadata import MAX_NAME, HerderModel, Name, NamespaceName, cel, validations

#: A UUID as vCenter (instance UUID) and SCVMM (object IDs) write them.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
#: A DNS host name or an IPv4 address, without scheme, port or path.
HOST_NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$"


def not_a_url(field: str) -> dict[str, str]:
    """CEL on a name field that people tend to fill with a URL."""
    return cel("!self.contains('://')", f"{field} takes a name, not a URL")


def url_rule(field: str, schemes: tuple[str, ...]) -> dict[str, str]:
    """CEL on a URL field: one of `schemes`, a host, and a port (if any) in 1..65535."""
    allowed = ", ".join(f"'{s}'" for s in schemes)
    return cel(
        f"isURL(self) && url(self).getScheme() in [{allowed}] && url(self).getHostname() != '' && "
        "(url(self).getPort() == '' || (int(url(self).getPort()) >= 1 && int(url(self).getPort()) <= 65535))",
        f"{field} must be a {' or '.join(schemes)} URL with a host name (and a port in 1-65535, if any)",
    )


def port_rule(field: str) -> dict[str, str]:
    """CEL on a `host[:port]` string: the port, if given, is in 1..65535."""
    return cel("!self.contains(':') || (int(self.split(':')[1]) >= 1 && int(self.split(':')[1]) <= 65535)",
               f"{field}: the port must be in 1-65535")


CABundle = Annotated[
    str,
    Field(
        max_length=65536,
        json_schema_extra=validations(cel(
            "self.trim().startsWith('-----BEGIN CERTIFICATE-----') && "
            "self.trim().endsWith('-----END CERTIFICATE-----')",
            "tls.caBundle must be PEM text (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), not a "
            "file name: paste the certificate(s) themselves",
        )),
    ),
]
"""PEM-encoded CA certificates, pasted in (a file path is refused)."""


class DeletionPolicy(StrEnum):
    """What happens to the backend object when the Kubernetes object is deleted."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class ProviderKind(StrEnum):
    VCENTER = "VCenter"
    SCVMM = "SCVMM"


# ---------------------------------------------------------------------------------------- references


class SecretRef(HerderModel):
    """A reference to a Secret. Cluster-scoped kinds must set the namespace."""

    name: Name = Field(description="Name of the Secret.")
    namespace: NamespaceName | None = Field(
        default=None,
        description="Namespace of the Secret. Required when the referring object is cluster-scoped; "
        "namespaced objects may only refer to Secrets in their own namespace.",
    )


class SecretKeyRef(HerderModel):
    """A key in a Secret in the referring object's namespace."""

    name: Name = Field(description="Name of the Secret, in the same namespace as the referring object.")
    key: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the Secret. When unset the controller uses the documented default key of the "
        "field (userData: `userData`; sysprep: `unattend.xml`).",
    )


class ObjectRef(HerderModel):
    """A reference to another Kubernetes object."""

    kind: str | None = Field(default=None, max_length=63, description="Kind of the referent.")
    name: Name = Field(description="Name of the referent.")
    namespace: NamespaceName | None = Field(
        default=None, description="Namespace of the referent; unset for cluster-scoped referents."
    )


class ProviderRef(HerderModel):
    """A reference to the virtual infrastructure manager (a VCenter or an SCVMM object)."""

    kind: ProviderKind = Field(description="Kind of the provider object: VCenter or SCVMM.")
    name: Name = Field(description="Name of the (cluster-scoped) VCenter or SCVMM object.")


class TLSConfig(HerderModel):
    """How the server's certificate is verified. Verification is on unless insecureSkipVerify is true."""

    ca_bundle: CABundle | None = Field(
        default=None,
        description="PEM-encoded CA certificate(s) that sign the server's certificate. Unset: the "
        "operator's system trust store.",
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip certificate verification. Only for test systems; must be set explicitly.",
    )


