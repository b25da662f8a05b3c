"""Signatures and approvals as OCI referrers of the revision manifest (the cosign bundle layout).

A referrer is an image manifest with ``artifactType`` = the sigstore bundle media type, the empty
config, one layer holding the bundle, ``subject`` = the revision manifest, and the annotations
cosign writes (``dev.sigstore.bundle.content``, ``dev.sigstore.bundle.predicateType``,
``org.opencontainers.image.created``). Registries with the referrers API list it; on those without
(CNCF distribution 2.8) the OCI layer keeps the ``sha256-<digest>`` fallback index.

Annotations are not signed: they only help listing. Verification reads the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from msr_oci.governance.approvals import APPROVAL_PREDICATE
from msr_oci.governance.bundles import BUNDLE_MEDIA_TYPE, MAX_BUNDLE_SIZE
from msr_oci.governance.errors import AttestationRefused
from msr_oci.governance.signing import MODEL_SIGNATURE_PREDICATE
from msr_oci.oci import (
    ANNOTATION_CREATED,
    EMPTY_DESCRIPTOR,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageManifest,
)

__all__ = [
    "ANNOTATION_BUNDLE_CONTENT",
    "ANNOTATION_PREDICATE_TYPE",
    "AttestationKind",
    "EncodedReferrer",
    "bundle_layer",
    "encode_referrer",
    "kind_of",
]

ANNOTATION_BUNDLE_CONTENT: Final = "dev.sigstore.bundle.content"
ANNOTATION_PREDICATE_TYPE: Final = "dev.sigstore.bundle.predicateType"

AttestationKind = Literal["signature", "approval", "other"]
_KINDS: Final[dict[str, AttestationKind]] = {
    MODEL_SIGNATURE_PREDICATE: "signature",
    APPROVAL_PREDICATE: "approval",
}


def kind_of(predicate_type: str | None) -> AttestationKind:
    return _KINDS.get(predicate_type or "", "other")


@dataclass(frozen=True)
class EncodedReferrer:
    descriptor: Descriptor
    manifest_bytes: bytes
    bundle_descriptor: Descriptor
    bundle: bytes


def encode_referrer(
    bundle: bytes, subject: Descriptor, predicate_type: str, created: datetime | None = None
) -> EncodedReferrer:
    """The referrer manifest attaching ``bundle`` to ``subject`` (pure)."""
    when = (created or datetime.now(UTC)).astimezone(UTC)
    layer = Descriptor.from_bytes(BUNDLE_MEDIA_TYPE, bundle)
    annotations = {
        ANNOTATION_CREATED: when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        ANNOTATION_BUNDLE_CONTENT: "dsse-envelope",
        ANNOTATION_PREDICATE_TYPE: predicate_type,
    }
    manifest = ImageManifest(
        artifact_type=BUNDLE_MEDIA_TYPE,
        config=EMPTY_DESCRIPTOR,
        layers=[layer],
        subject=subject.short(),
        annotations=annotations,
    )
    data = manifest.to_bytes()
    descriptor = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, data, artifact_type=BUNDLE_MEDIA_TYPE)
    return EncodedReferrer(descriptor, data, layer, bundle)


def bundle_layer(manifest: ImageManifest, subject_digest: str, what: str) -> Descriptor:
    """The bundle layer of a referrer; refused unless the referrer is a bundle attached to the subject."""
    if manifest.artifact_type != BUNDLE_MEDIA_TYPE:
        raise AttestationRefused(f"{what}: artifactType {manifest.artifact_type!r} is not a sigstore bundle")
    attached_to = manifest.subject.digest if manifest.subject is not None else None
    if attached_to != subject_digest:
        raise AttestationRefused(
            f"{what}: its subject is {attached_to or 'missing'}, not this revision ({subject_digest})"
        )
    bundles = [layer for layer in manifest.layers if layer.media_type == BUNDLE_MEDIA_TYPE]
    if len(bundles) != 1:
        raise AttestationRefused(
            f"{what}: a bundle referrer holds exactly one bundle layer, found {len(bundles)}"
        )
    if bundles[0].size > MAX_BUNDLE_SIZE:
        raise AttestationRefused(f"{what}: the bundle is larger than {MAX_BUNDLE_SIZE} bytes")
    return bundles[0]


def created_at(manifest: ImageManifest) -> datetime | None:
    """The referrer's creation annotation (unsigned: for display only)."""
    text = (manifest.annotations or {}).get(ANNOTATION_CREATED)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
