"""References and settings several herder kinds share: Secrets, objects, providers, TLS, deletion policy."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from herder.api.metadata import MAX_NAME, HerderModel, Name, NamespaceName


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

    ca_bundle: str | None = Field(
        default=None,
        max_length=65536,
        description="PEM-encoded CA certificate(s) that sign the server's certificate. Unset: the "
        "operator's system trust store.",
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip certificate verification. Only for test systems; must be set explicitly.",
    )


