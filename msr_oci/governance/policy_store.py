"""A policy stored in the revision's repository, signed by its admins, under the reserved tag ``_policy``.

The artifact: an image manifest (``artifactType`` below, empty config) whose first layer is the policy
YAML exactly as written and whose other layers are sigstore bundles, one per admin signature. Each
signature is an in-toto statement whose subject is the YAML's SHA-256 and whose predicate names the
repository, the serial and the previous policy manifest's digest, so a signed policy can be neither
moved to another repository nor replayed in place of a newer one.

A change must be signed by the admins of the policy it replaces; the first policy a machine sees is
trusted on first use when its own admins signed it (``trust.py`` keeps the pin).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from msr_oci.errors import InvalidManifest
from msr_oci.governance.bundles import (
    BUNDLE_MEDIA_TYPE,
    MAX_BUNDLE_SIZE,
    StatementSigner,
    read_claim,
    verify_bundle,
)
from msr_oci.governance.errors import AttestationRefused, UntrustedPolicy
from msr_oci.governance.policy import MAX_POLICY_SIZE, Policy
from msr_oci.oci import (
    ANNOTATION_CREATED,
    ANNOTATION_TITLE,
    EMPTY_DESCRIPTOR,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageManifest,
)

__all__ = [
    "POLICY_ARTIFACT_TYPE",
    "POLICY_MEDIA_TYPE",
    "POLICY_PREDICATE",
    "POLICY_TAG",
    "EncodedPolicy",
    "StoredPolicy",
    "admins_behind",
    "check_signed_by_admins",
    "check_successor",
    "encode_policy",
    "policy_layers",
    "sign_policy",
]

POLICY_TAG: Final = "_policy"
POLICY_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.policy.v1"
POLICY_MEDIA_TYPE: Final = "application/vnd.backend.ai.model-serving.policy.v1+yaml"
POLICY_PREDICATE: Final = "https://backend.ai/model-serving/policy/v1"
POLICY_FILE: Final = "policy.yaml"
ANNOTATION_PREVIOUS: Final = "ai.backend.model-serving.policy.previous"
ANNOTATION_SERIAL: Final = "ai.backend.model-serving.policy.serial"
#: admin signatures one stored policy may carry
MAX_POLICY_SIGNATURES: Final = 64


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _predicate(repository: str, serial: int, previous: str | None) -> dict[str, Any]:
    # strings throughout: in-toto predicates travel as protobuf Structs, where numbers become floats
    return {"repository": repository, "serial": str(serial), "previous": previous or ""}


def sign_policy(
    signer: StatementSigner, data: bytes, repository: str, serial: int, previous: str | None
) -> bytes:
    """One admin's signature (a bundle) over the policy bytes for ``repository``."""
    return signer.sign_statement(
        POLICY_FILE, {"sha256": _sha256(data)}, POLICY_PREDICATE, _predicate(repository, serial, previous)
    )


@dataclass(frozen=True)
class EncodedPolicy:
    descriptor: Descriptor
    manifest_bytes: bytes
    blobs: list[tuple[Descriptor, bytes]]


def encode_policy(
    data: bytes, bundles: list[bytes], serial: int, previous: str | None, created: datetime | None = None
) -> EncodedPolicy:
    when = (created or datetime.now(UTC)).astimezone(UTC)
    policy_layer = Descriptor.from_bytes(POLICY_MEDIA_TYPE, data, annotations={ANNOTATION_TITLE: POLICY_FILE})
    blobs = [(policy_layer, data)] + [(Descriptor.from_bytes(BUNDLE_MEDIA_TYPE, b), b) for b in bundles]
    annotations = {ANNOTATION_CREATED: when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), ANNOTATION_SERIAL: str(serial)}
    if previous:
        annotations[ANNOTATION_PREVIOUS] = previous
    manifest = ImageManifest(
        artifact_type=POLICY_ARTIFACT_TYPE,
        config=EMPTY_DESCRIPTOR,
        layers=[d for d, _ in blobs],
        annotations=annotations,
    )
    manifest_bytes = manifest.to_bytes()
    descriptor = Descriptor.from_bytes(
        MEDIA_TYPE_IMAGE_MANIFEST, manifest_bytes, artifact_type=POLICY_ARTIFACT_TYPE
    )
    return EncodedPolicy(descriptor, manifest_bytes, blobs)


def policy_layers(manifest: ImageManifest, what: str) -> tuple[Descriptor, list[Descriptor], str | None]:
    """The policy layer, the signature layers and the previous policy's digest of a stored policy."""
    if manifest.artifact_type != POLICY_ARTIFACT_TYPE:
        raise InvalidManifest(f"{what} is not a policy (artifactType {manifest.artifact_type!r})")
    if not manifest.layers or manifest.layers[0].media_type != POLICY_MEDIA_TYPE:
        raise InvalidManifest(f"{what}: the first layer must be the policy ({POLICY_MEDIA_TYPE})")
    policy_layer, signatures = manifest.layers[0], manifest.layers[1:]
    if policy_layer.size > MAX_POLICY_SIZE:
        raise InvalidManifest(f"{what}: the policy is larger than {MAX_POLICY_SIZE} bytes")
    if len(signatures) > MAX_POLICY_SIGNATURES or any(
        d.media_type != BUNDLE_MEDIA_TYPE or d.size > MAX_BUNDLE_SIZE for d in signatures
    ):
        raise InvalidManifest(
            f"{what}: the layers after the policy must be at most {MAX_POLICY_SIGNATURES} bundles"
        )
    previous = (manifest.annotations or {}).get(ANNOTATION_PREVIOUS) or None
    return policy_layer, signatures, previous


@dataclass(frozen=True)
class StoredPolicy:
    """A policy as stored in a repository (or as pinned): its manifest digest, document and signatures."""

    digest: str
    policy: Policy
    data: bytes
    bundles: list[bytes]
    previous: str | None
    created: datetime | None = None

    @property
    def serial(self) -> int:
        return self.policy.serial

    @property
    def label(self) -> str:
        stored = self.digest.startswith(("sha256:", "sha512:"))
        return (
            f"the policy {self.digest} (serial {self.serial})"
            if stored
            else f"the new policy (serial {self.serial})"
        )


def admins_behind(stored: StoredPolicy, trusted: Policy, repository: str) -> tuple[list[str], list[str]]:
    """The admins of ``trusted`` whose valid signatures ``stored`` carries, and why others were refused."""
    admins = trusted.admins.signers if trusted.admins is not None else []
    expected = _predicate(repository, stored.serial, stored.previous)
    signed: set[str] = set()
    refusals: list[str] = []
    for index, bundle in enumerate(stored.bundles):
        what = f"policy signature {index + 1} of {stored.digest}"
        try:
            parsed = read_claim(bundle, what)
            candidates = [
                n for n in admins if n in trusted.identities and parsed.claim.could_be(trusted.identities[n])
            ]
            if not candidates:
                raise AttestationRefused(f"{what}: signed by {parsed.claim.describe()}, not by an admin")
            for name in candidates:
                statement = verify_bundle(parsed, trusted.identities[name], what)
                subject = (statement.get("subject") or [{}])[0]
                if statement.get("predicateType") != POLICY_PREDICATE:
                    raise AttestationRefused(f"{what}: not a policy signature")
                if (subject.get("digest") or {}).get("sha256") != _sha256(stored.data):
                    raise AttestationRefused(f"{what}: it signs other policy bytes")
                if statement.get("predicate") != expected:
                    raise AttestationRefused(
                        f"{what}: it signs {statement.get('predicate')}, expected {expected} "
                        "(another repository, serial or predecessor)"
                    )
                signed.add(name)
                break
        except AttestationRefused as exc:
            refusals.append(str(exc))
    return sorted(signed), refusals


def check_signed_by_admins(stored: StoredPolicy, trusted: Policy, repository: str) -> list[str]:
    """Refuse ``stored`` unless enough admins of ``trusted`` signed it; returns the admins who did."""
    if trusted.admins is None:
        raise UntrustedPolicy(
            f"{trusted.source} names no admins, so no policy change of {repository} can be trusted",
            hint="a stored policy needs an admins section",
        )
    signed, refusals = admins_behind(stored, trusted, repository)
    if len(signed) < trusted.admins.threshold:
        found = "; ".join(refusals) or "no signatures"
        raise UntrustedPolicy(
            f"{stored.label} of {repository} is signed by {len(signed)} admin(s), but {trusted.source} "
            f"requires {trusted.admins.describe()}: {found}",
            hint="an admin of the trusted policy must sign the change",
        )
    return signed


def check_successor(older: StoredPolicy, newer: StoredPolicy, repository: str) -> list[str]:
    """Refuse ``newer`` unless it follows ``older``: signed by its admins, serial increased."""
    if newer.previous != older.digest:
        raise UntrustedPolicy(f"{newer.label} of {repository} does not follow {older.digest}")
    if newer.serial <= older.serial:
        raise UntrustedPolicy(
            f"{newer.label} of {repository} does not raise the serial above {older.serial}",
            hint="a policy change must raise the serial",
        )
    return check_signed_by_admins(newer, older.policy, repository)
