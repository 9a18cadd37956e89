"""VCenter: a vCenter Server that herder manages VMs on (cluster-scoped)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from herder.api.common import CABundle, SecretRef, port_rule
from herder.api.metadata import (
    AGE_COLUMN,
    READY_COLUMN,
    REASON_COLUMN,
    HerderModel,
    KindInfo,
    Resource,
    Scope,
    Status,
    cel,
    validations,
)

THUMBPRINT_PATTERN = r"^([0-9A-Fa-f]{2}:){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$"


class VCenterTLS(HerderModel):
    """How herder verifies vCenter's certificate: a CA bundle, a pinned thumbprint, or (explicitly) not at
    all. With none set, the operator's system trust store is used."""

    ca_bundle: CABundle | None = Field(
        default=None,
        description="PEM-encoded CA certificate(s) that sign vCenter's certificate (the text, not a file path).",
    )
    thumbprint: str | None = Field(
        default=None,
        pattern=THUMBPRINT_PATTERN,
        description="SHA-1 or SHA-256 fingerprint of vCenter's certificate, colon-separated hex "
        "(as `govc about.cert -thumbprint` prints it).",
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip certificate verification. Only for test systems; must be set explicitly.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.caBundle) ? 1 : 0) + (has(self.thumbprint) ? 1 : 0) + "
                "(self.insecureSkipVerify ? 1 : 0) <= 1",
                "spec.tls: set at most one of caBundle, thumbprint and insecureSkipVerify",
            )
        )
    )


class VCenterSpec(HerderModel):
    """Connection settings for one vCenter Server and datacenter."""

    server: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
        description="Host name or IP address of vCenter, optionally with `:port` (1-65535; default 443). No "
        "scheme.",
        json_schema_extra=validations(port_rule("spec.server")),
    )
    datacenter: str = Field(
        min_length=1, max_length=1024, description="Name or inventory path of the datacenter herder uses."
    )
    credentials_secret_ref: SecretRef = Field(
        description="Secret with keys `username` and `password`. The namespace is required. herder reloads "
        "the credentials when the Secret changes.",
        json_schema_extra=validations(
            cel(
                "has(self.__namespace__)",
                "spec.credentialsSecretRef.namespace is required (VCenter is cluster-scoped)",
                field_path=".namespace",
            )
        ),
    )
    tls: VCenterTLS = Field(
        default_factory=VCenterTLS,
        description="Certificate verification; on by default (system trust store).",
    )


class VCenterStatus(Status):
    """Observed state of the connection."""

    version: str | None = Field(default=None, max_length=128, description="vCenter version and build.")
    instance_uuid: str | None = Field(
        default=None, max_length=64, alias="instanceUUID", description="vCenter's instance UUID."
    )


class VCenter(Resource):
    """A vCenter Server herder connects to. Referenced by AvailabilityZones and Images."""

    kind: str = "VCenter"
    spec: VCenterSpec = Field(description="Connection settings.")
    status: VCenterStatus = Field(default_factory=VCenterStatus, description="Observed state.")


KIND = KindInfo(
    model=VCenter,
    kind="VCenter",
    plural="vcenters",
    singular="vcenter",
    scope=Scope.CLUSTER,
    short_names=("vc",),
    printer_columns=(
        {"name": "Server", "type": "string", "jsonPath": ".spec.server"},
        {"name": "Datacenter", "type": "string", "jsonPath": ".spec.datacenter"},
        {"name": "Version", "type": "string", "jsonPath": ".status.version", "priority": 1},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
