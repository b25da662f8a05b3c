"""Who may sign: public keys, certificate identities and sigstore (keyless) identities.

A policy names its signers; each resolves to one of the identities here. The key fingerprint is the
one ``model-signing`` writes into a bundle as the public key hint (SHA-256 of the PEM
SubjectPublicKeyInfo), so a bundle names the key that made it without carrying it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "SUPPORTED_CURVES",
    "CertificateIdentity",
    "Identity",
    "PublicKeyIdentity",
    "SigstoreIdentity",
    "certificate_names",
    "check_validity",
    "key_fingerprint",
    "load_public_key",
]

#: the curves model-signing (and sigstore's protobuf specs) accept
SUPPORTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """An EC public key (P-256, P-384 or P-521) from PEM; ``ValueError`` says what is wrong."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"a {type(key).__name__.removeprefix('_')} is not an elliptic curve key")
    if key.curve.name not in SUPPORTED_CURVES:
        raise ValueError(f"curve {key.curve.name} is not one of P-256, P-384, P-521")
    return key


def key_fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """Hex SHA-256 of the key's PEM SubjectPublicKeyInfo (model-signing's public key hint)."""
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def certificate_names(certificate: x509.Certificate) -> list[str]:
    """The names a certificate is issued to: SAN emails, URIs and DNS names, then the subject CN."""
    names: list[str] = []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        names += san.get_values_for_type(x509.RFC822Name)
        names += san.get_values_for_type(x509.UniformResourceIdentifier)
        names += san.get_values_for_type(x509.DNSName)
    for attribute in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        value = attribute.value
        names.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return names


def check_validity(certificate: x509.Certificate, now: datetime | None = None) -> str | None:
    """Why ``certificate`` is not valid at ``now`` (expired, not yet valid), or None if it is."""
    when = now or datetime.now(UTC)
    if when > certificate.not_valid_after_utc:
        return f"expired at {certificate.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
    if when < certificate.not_valid_before_utc:
        return f"not valid before {certificate.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
    return None


@dataclass(frozen=True)
class PublicKeyIdentity:
    """A signer known by its EC public key."""

    public_key_pem: bytes
    fingerprint: str

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKeyIdentity:
        return cls(public_key_pem=pem, fingerprint=key_fingerprint(load_public_key(pem)))

    def describe(self) -> str:
        return f"key {self.fingerprint[:16]}"


@dataclass(frozen=True)
class CertificateIdentity:
    """A signer known by a name in its certificate, issued under a certificate authority (PEM roots)."""

    identity: str
    authority_pem: bytes

    def describe(self) -> str:
        return f"certificate {self.identity}"


@dataclass(frozen=True)
class SigstoreIdentity:
    """A keyless signer: an OIDC identity and issuer, as Fulcio certifies them and Rekor logs them."""

    identity: str
    issuer: str
    staging: bool = False

    def describe(self) -> str:
        return f"sigstore {self.identity} ({self.issuer})"


Identity = PublicKeyIdentity | CertificateIdentity | SigstoreIdentity
