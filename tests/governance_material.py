"""Keys, certificates and policies the governance tests generate (nothing is checked in).

EC P-256 keys in PEM, a test CA that issues leaf certificates with an email SAN, and policy YAML
built from named signers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class KeyPair:
    name: str
    private: Path  # PEM, PKCS#8, unencrypted
    public: Path  # PEM SubjectPublicKeyInfo
    key: ec.EllipticCurvePrivateKey

    @property
    def public_pem(self) -> str:
        return self.public.read_text()


def make_key(directory: Path, name: str) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(name, private, public, key)


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    path: Path  # the CA certificate, PEM

    @property
    def pem(self) -> str:
        return self.path.read_text()


def make_authority(directory: Path, name: str = "test-ca") -> Authority:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(key, certificate, path)


def issue(
    authority: Authority,
    signer: KeyPair,
    email: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Path:
    """A code-signing leaf certificate for ``signer``'s key with ``email`` as its SAN."""
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer.name)]))
        .issuer_name(authority.certificate.subject)
        .public_key(signer.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(authority.key, hashes.SHA256())
    )
    path = signer.private.with_suffix(".crt")
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def policy_document(
    keys: list[KeyPair],
    stages: dict[str, Any],
    *,
    admins: list[str] | None = None,
    serial: int = 1,
    certificates: dict[str, tuple[str, str]] | None = None,
    authority: Authority | None = None,
    deploy_stage: str | None = None,
) -> dict[str, Any]:
    """A policy naming ``keys`` by their names; ``certificates``: signer -> (identity, authority name)."""
    signers: dict[str, Any] = {k.name: {"public_key": k.public_pem} for k in keys}
    for name, (identity, authority_name) in (certificates or {}).items():
        signers[name] = {"certificate": {"identity": identity, "authority": authority_name}}
    document: dict[str, Any] = {"version": 1, "serial": serial, "signers": signers, "stages": stages}
    if authority is not None:
        document["certificate_authorities"] = {"corp": authority.pem}
    if admins is not None:
        document["admins"] = {"signers": admins}
    if deploy_stage is not None:
        document["deploy_stage"] = deploy_stage
    return document


def write_policy(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
