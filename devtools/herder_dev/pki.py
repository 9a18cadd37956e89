"""A throwaway PKI for local test worlds: one CA per directory, server and client certificates signed by it.

Every function is idempotent: existing files are reused, so `herder dev up` can run again over a directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "herder-dev-ca"
_VALIDITY = dt.timedelta(days=365)
_CertKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertPair(NamedTuple):
    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start so that a key is never world-readable, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: _CertKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    # Backdated a little so that a peer whose clock lags slightly still accepts the certificate.
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return builder.not_valid_before(start).not_valid_after(start + _VALIDITY)


def _load_ca(ca: CertPair) -> tuple[x509.Certificate, _CertKey]:
    cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError(f"{ca.key}: unsupported CA key type {type(key).__name__}")
    return cert, key


def ensure_ca(directory: str | Path, common_name: str = "herder-dev CA") -> CertPair:
    """The CA in directory (herder-dev-ca.crt/.key), created on first use."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pair = CertPair(d / f"{CA_NAME}.crt", d / f"{CA_NAME}.key")
    if pair.cert.exists() and pair.key.exists():
        return pair
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )
    cert = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(pair.key, _key_pem(key))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _still_valid(pair: CertPair, ca_cert: x509.Certificate, sans: list[x509.GeneralName]) -> bool:
    if not (pair.cert.exists() and pair.key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    expiring = cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    if cert.issuer != ca_cert.subject or expiring:
        return False
    try:
        current = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return not sans
    return set(current) == set(sans)


def _issue(
    directory: str | Path,
    name: str,
    ca: CertPair,
    *,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
) -> CertPair:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pair = CertPair(d / f"{name}.crt", d / f"{name}.key")
    ca_cert, ca_key = _load_ca(ca)
    if _still_valid(pair, ca_cert, sans):
        return pair
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = builder.add_extension(aki, critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_private(pair.key, _key_pem(key))
    pair.cert.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return pair


def issue_server_cert(
    directory: str | Path,
    name: str,
    ca: CertPair,
    hosts: tuple[str, ...] | list[str] = ("127.0.0.1", "localhost"),
) -> CertPair:
    """<name>.crt/.key for TLS servers on hosts (DNS names or IP addresses), signed by ca."""
    if not hosts:
        raise ValueError("a server certificate needs at least one host")
    sans = [_san(h) for h in hosts]
    server = ExtendedKeyUsageOID.SERVER_AUTH
    return _issue(directory, name, ca, subject=_name(hosts[0]), usage=server, sans=sans)


def issue_client_cert(
    directory: str | Path, name: str, ca: CertPair, common_name: str, organizations: tuple[str, ...] = ()
) -> CertPair:
    """<name>.crt/.key for TLS client auth; Kubernetes reads CN as the user and O as the groups."""
    subject = _name(common_name, organizations)
    pair = CertPair(Path(directory) / f"{name}.crt", Path(directory) / f"{name}.key")
    if pair.cert.exists() and x509.load_pem_x509_certificate(pair.cert.read_bytes()).subject != subject:
        pair.cert.unlink()  # same file name, different identity: reissue
    return _issue(directory, name, ca, subject=subject, usage=ExtendedKeyUsageOID.CLIENT_AUTH, sans=[])


def ensure_rsa_key(path: str | Path, bits: int = 2048) -> Path:
    """An RSA private key at path plus its public key at path.with_suffix('.pub'), created on first use."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pub = p.with_suffix(".pub")
    if p.exists() and pub.exists():
        return p
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    _write_private(p, _key_pem(key))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, spki))
    return p
