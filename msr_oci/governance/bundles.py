"""Sigstore bundles made and checked by the OpenSSF ``model-signing`` package.

The one module that talks to ``model_signing``: its signers turn an in-toto statement into a sigstore
bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``) holding a DSSE envelope, and its verifiers
check a bundle against one trusted key, certificate authority or sigstore identity. msr adds only what
they leave to the caller: which trusted signer a bundle claims to be (the key hint, the certificate's
names) and that a certificate is valid now (model-signing checks the chain at the certificate's
start time, so an expired certificate would pass it).

model-signing 1.1's stable API signs and verifies directories; the signer and verifier classes used
here sit under ``model_signing._signing`` (pinned to ``>=1.1.1,<1.2`` in pyproject.toml for that).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from cryptography import x509

from msr_oci.governance.errors import AttestationRefused, SigningKeyError
from msr_oci.governance.identities import (
    CertificateIdentity,
    Identity,
    PublicKeyIdentity,
    SigstoreIdentity,
    certificate_names,
    check_validity,
)

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "IN_TOTO_PAYLOAD_TYPE",
    "IN_TOTO_STATEMENT_TYPE",
    "MAX_BUNDLE_SIZE",
    "BundleClaim",
    "KeyMaterial",
    "SigningMaterial",
    "SigstoreMaterial",
    "StatementSigner",
    "read_claim",
    "unverified_statement",
    "verify_bundle",
]

BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
#: a bundle holds one statement and a short certificate chain; anything larger is refused unread
MAX_BUNDLE_SIZE: Final = 1024 * 1024


@dataclass(frozen=True)
class KeyMaterial:
    """Sign with an EC private key (PEM), optionally with its certificate and the chain above it."""

    private_key: Path
    password: bytes | None = None
    certificate: Path | None = None
    chain: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SigstoreMaterial:
    """Sign keyless through sigstore (Fulcio certificate, Rekor log entry); needs the network."""

    identity_token: str | None = None
    oidc_issuer: str | None = None
    staging: bool = False
    use_ambient_credentials: bool = True


SigningMaterial = KeyMaterial | SigstoreMaterial


class _HasStatement(Protocol):
    """What model-signing's signers read from a payload: an in-toto ``Statement`` wrapper."""

    statement: Any


@dataclass
class _StatementPayload:
    statement: Any


def _check_certificate_file(path: Path) -> None:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM certificate ({exc})") from None
    problem = check_validity(certificate)
    if problem is not None:
        raise SigningKeyError(f"{path}: the certificate {problem}", hint="renew it, then sign again")


def _key_signer(material: KeyMaterial) -> Any:
    from model_signing._signing import sign_certificate, sign_ec_key

    key = material.private_key
    try:
        if material.certificate is None:
            # model-signing hands the password to cryptography, which wants bytes
            return sign_ec_key.Signer(key, material.password)  # type: ignore[arg-type]
        if material.password is not None:
            raise SigningKeyError(
                f"{key}: model-signing cannot use an encrypted key together with a certificate",
                hint="use an unencrypted key file with --certificate, or sign with the key alone",
            )
        if not material.chain:
            # model-signing 1.1 reads the chain unconditionally and cannot sign with an empty one
            raise SigningKeyError(
                f"{material.certificate}: signing with a certificate needs its chain",
                hint="give the CA certificate(s) above it (PEM) as the chain",
            )
        _check_certificate_file(material.certificate)
        return sign_certificate.Signer(key, material.certificate, list(material.chain))
    except (ValueError, TypeError) as exc:
        files = ", ".join(str(p) for p in (key, material.certificate, *material.chain) if p is not None)
        raise SigningKeyError(
            f"{files}: cannot sign with this material: {exc}",
            hint="give an EC P-256/P-384/P-521 private key in PEM (and its password if it is encrypted)",
        ) from None


def _sigstore_signer(material: SigstoreMaterial) -> Any:
    from model_signing._signing import sign_sigstore

    return sign_sigstore.Signer(
        oidc_issuer=material.oidc_issuer,
        use_ambient_credentials=material.use_ambient_credentials,
        use_staging=material.staging,
        identity_token=material.identity_token,
    )


class StatementSigner:
    """Signs in-toto statements into sigstore bundles with one key, certificate or sigstore identity."""

    def __init__(self, material: SigningMaterial) -> None:
        self.material = material
        self._signer = (
            _sigstore_signer(material) if isinstance(material, SigstoreMaterial) else _key_signer(material)
        )

    def sign_payload(self, payload: _HasStatement) -> bytes:
        """A bundle (JSON bytes) over a model-signing ``Payload`` or any object with ``.statement``."""
        signature = self._signer.sign(payload)
        text: str = signature.bundle.to_json()
        return text.encode("utf-8")

    def sign_statement(
        self,
        subject_name: str,
        subject_digest: Mapping[str, str],
        predicate_type: str,
        predicate: dict[str, Any],
    ) -> bytes:
        """A bundle over a statement with one subject (``digest``: algorithm -> hex)."""
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement

        subject = ResourceDescriptor(name=subject_name, digest=dict(subject_digest)).pb
        statement = Statement(subjects=[subject], predicate_type=predicate_type, predicate=predicate)
        return self.sign_payload(_StatementPayload(statement))


# ---- reading and verifying ------------------------------------------------------------------------

ClaimKind = Literal["key", "certificate", "sigstore"]


@dataclass(frozen=True)
class BundleClaim:
    """What a bundle says about who signed it, before anything is verified."""

    kind: ClaimKind
    key_hint: str | None = None
    certificate: x509.Certificate | None = None
    names: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.kind == "key":
            return f"key {(self.key_hint or '?')[:16]}"
        return f"{self.kind} {', '.join(self.names) or '(no name)'}"

    def could_be(self, identity: Identity) -> bool:
        """Whether verifying against ``identity`` is worth trying (the claim names it)."""
        if isinstance(identity, PublicKeyIdentity):
            return self.kind == "key" and self.key_hint == identity.fingerprint
        if isinstance(identity, CertificateIdentity):
            return self.kind == "certificate" and identity.identity in self.names
        return self.kind == "sigstore" and identity.identity in self.names


@dataclass(frozen=True)
class ParsedBundle:
    data: bytes
    claim: BundleClaim
    bundle: Any  # sigstore_models' Bundle (key and certificate bundles)


def _refuse(what: str, reason: str) -> AttestationRefused:
    return AttestationRefused(f"{what}: {reason}")


def read_claim(data: bytes, what: str) -> ParsedBundle:
    """Parse a bundle (no verification) and say who it claims as its signer."""
    from sigstore_models.bundle import v1 as bundle_pb

    if len(data) > MAX_BUNDLE_SIZE:
        raise _refuse(what, f"the bundle is larger than {MAX_BUNDLE_SIZE} bytes")
    try:
        bundle = bundle_pb.Bundle.from_json(data)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise _refuse(what, f"not a sigstore bundle ({first})") from None
    if bundle.media_type != BUNDLE_MEDIA_TYPE:
        raise _refuse(what, f"bundle media type {bundle.media_type!r}, expected {BUNDLE_MEDIA_TYPE!r}")
    if bundle.dsse_envelope is None:
        raise _refuse(what, "the bundle holds no DSSE envelope (a plain message signature)")
    material = bundle.verification_material
    try:
        if material.public_key is not None:
            if not material.public_key.hint:
                raise _refuse(what, "the bundle does not name its key (no public key hint); sign it again")
            return ParsedBundle(data, BundleClaim("key", key_hint=material.public_key.hint), bundle)
        if material.x509_certificate_chain is not None and material.x509_certificate_chain.certificates:
            leaf = x509.load_der_x509_certificate(material.x509_certificate_chain.certificates[0].raw_bytes)
            claim = BundleClaim("certificate", certificate=leaf, names=certificate_names(leaf))
            return ParsedBundle(data, claim, bundle)
        if material.certificate is not None:
            leaf = x509.load_der_x509_certificate(material.certificate.raw_bytes)
            return ParsedBundle(
                data, BundleClaim("sigstore", certificate=leaf, names=certificate_names(leaf)), bundle
            )
    except ValueError as exc:
        raise _refuse(what, f"the bundle's certificate does not parse ({exc})") from None
    raise _refuse(what, "the bundle carries no key, certificate chain or certificate")


def unverified_statement(parsed: ParsedBundle) -> dict[str, Any] | None:
    """The statement a bundle carries, NOT verified: for listing what it claims, never for decisions."""
    try:
        statement = json.loads(parsed.bundle.dsse_envelope.payload)
    except (ValueError, AttributeError):
        return None
    return statement if isinstance(statement, dict) else None


@contextmanager
def _pem_file(pem: bytes) -> Iterator[Path]:
    """model-signing's verifiers read trust material from files; they read it when built."""
    with tempfile.TemporaryDirectory(prefix="msr-trust-") as directory:
        path = Path(directory) / "trusted.pem"
        path.write_bytes(pem)
        yield path


#: sigstore verifiers fetch sigstore's trust root (TUF) when built: one per identity per process
_SIGSTORE_VERIFIERS: dict[SigstoreIdentity, Any] = {}


def _verifier(identity: Identity) -> Any:
    """A fresh verifier for keys and certificates (the certificate verifier keeps per-call state)."""
    from model_signing._signing import sign_certificate, sign_ec_key, sign_sigstore

    if isinstance(identity, PublicKeyIdentity):
        with _pem_file(identity.public_key_pem) as path:
            return sign_ec_key.Verifier(path)
    if isinstance(identity, CertificateIdentity):
        with _pem_file(identity.authority_pem) as path:
            return sign_certificate.Verifier([path])
    assert isinstance(identity, SigstoreIdentity)
    if identity not in _SIGSTORE_VERIFIERS:
        _SIGSTORE_VERIFIERS[identity] = sign_sigstore.Verifier(
            identity=identity.identity, oidc_issuer=identity.issuer, use_staging=identity.staging
        )
    return _SIGSTORE_VERIFIERS[identity]


def _signature(parsed: ParsedBundle, identity: Identity) -> Any:
    if isinstance(identity, SigstoreIdentity):
        from model_signing._signing import sign_sigstore
        from sigstore.models import Bundle

        return sign_sigstore.Signature(Bundle.from_json(parsed.data))
    from model_signing._signing import sign_sigstore_pb

    return sign_sigstore_pb.Signature(parsed.bundle)


def verify_bundle(
    parsed: ParsedBundle, identity: Identity, what: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """The in-toto statement of a bundle signed by ``identity``; ``AttestationRefused`` says why not."""
    claim = parsed.claim
    if claim.certificate is not None and claim.kind == "certificate":
        problem = check_validity(claim.certificate, now)
        if problem is not None:
            raise _refuse(what, f"the signing certificate of {', '.join(claim.names)} {problem}")
    try:
        verifier = _verifier(identity)
        payload_type, payload = verifier._verify_signed_content(_signature(parsed, identity))
    except AttestationRefused:
        raise
    except Exception as exc:  # a trust boundary: every way a bundle fails to verify is a refusal
        reason = str(exc).strip() or type(exc).__name__
        raise _refuse(what, f"the signature does not verify with {identity.describe()}: {reason}") from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _refuse(what, f"payload type {payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}")
    try:
        statement = json.loads(payload)
    except ValueError:
        raise _refuse(what, "the signed payload is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") != IN_TOTO_STATEMENT_TYPE:
        raise _refuse(what, f"the signed payload is not an in-toto statement ({IN_TOTO_STATEMENT_TYPE})")
    return statement
