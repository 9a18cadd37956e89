"""SCVMM: a System Center Virtual Machine Manager server reached over WinRM (cluster-scoped)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from herder.api.common import HOST_NAME_PATTERN, CABundle, SecretRef, url_rule
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


class WinRMTransport(StrEnum):
    NTLM = "ntlm"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    BASIC = "basic"


class SCVMMTLS(HerderModel):
    """How herder verifies the WinRM endpoint's certificate. Verification is on by default."""

    ca_bundle: CABundle | None = Field(
        default=None,
        description="PEM-encoded CA certificate(s) that sign the WinRM endpoint's certificate (the text, not a "
        "file path). Unset: the operator's system trust store.",
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip certificate verification. Only for test systems; must be set explicitly.",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.caBundle) && self.insecureSkipVerify)",
                "spec.tls: set at most one of caBundle and insecureSkipVerify",
            )
        )
    )


class SCVMMSpec(HerderModel):
    """Connection settings for one SCVMM server."""

    endpoint: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^https://[^\s/:]+(:[0-9]{1,5})?(/\S*)?$",
        description="HTTPS URL of the WinRM endpoint that runs the VirtualMachineManager cmdlets, e.g. "
        "`https://vmm01.corp.example:5986/wsman`.",
        json_schema_extra=validations(url_rule("spec.endpoint", ("https",))),
    )
    credentials_secret_ref: SecretRef = Field(
        description="Secret with keys `username` (e.g. `CORP\\\\svc-herder`) and `password`. The namespace "
        "is required. herder reloads the credentials when the Secret changes.",
        json_schema_extra=validations(
            cel(
                "has(self.__namespace__)",
                "spec.credentialsSecretRef.namespace is required (SCVMM is cluster-scoped)",
                field_path=".namespace",
            )
        ),
    )
    transport: WinRMTransport = Field(
        default=WinRMTransport.NTLM, description="WinRM authentication: ntlm, kerberos, credssp or basic."
    )
    tls: SCVMMTLS = Field(
        default_factory=SCVMMTLS, description="Certificate verification; on by default (system trust store)."
    )
    vmm_server: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=HOST_NAME_PATTERN,
        description="Host name of the VMM management server passed to Get-SCVMMServer, when it differs from the "
        "WinRM host (a name such as `vmm01.corp.example`, not a URL).",
    )


class SCVMMStatus(Status):
    """Observed state of the connection."""

    version: str | None = Field(default=None, max_length=128, description="VMM server version.")


class SCVMM(Resource):
    """A System Center Virtual Machine Manager server herder connects to over WinRM."""

    kind: str = "SCVMM"
    spec: SCVMMSpec = Field(description="Connection settings.")
    status: SCVMMStatus = Field(default_factory=SCVMMStatus, description="Observed state.")


KIND = KindInfo(
    model=SCVMM,
    kind="SCVMM",
    plural="scvmms",
    singular="scvmm",
    scope=Scope.CLUSTER,
    short_names=("vmm",),
    printer_columns=(
        {"name": "Endpoint", "type": "string", "jsonPath": ".spec.endpoint"},
        {"name": "Transport", "type": "string", "jsonPath": ".spec.transport"},
        {"name": "Version", "type": "string", "jsonPath": ".status.version", "priority": 1},
        READY_COLUMN,
        REASON_COLUMN,
        AGE_COLUMN,
    ),
)
