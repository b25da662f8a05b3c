"""The OCI content model: media types, descriptors, image manifests and indexes (image-spec v1.1).

``canonical_json`` gives the one byte sequence we write for a JSON document, so the same content
always has the same digest.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from msr_oci.errors import InvalidManifest, MsrOciError
from msr_oci.oci.digest import digest_bytes, validate_digest

MEDIA_TYPE_IMAGE_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_IMAGE_INDEX: Final = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_IMAGE_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_EMPTY: Final = "application/vnd.oci.empty.v1+json"
MEDIA_TYPE_DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"

MANIFEST_MEDIA_TYPES: Final = frozenset(
    {
        MEDIA_TYPE_IMAGE_MANIFEST,
        MEDIA_TYPE_IMAGE_INDEX,
        MEDIA_TYPE_DOCKER_MANIFEST,
        MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    }
)
INDEX_MEDIA_TYPES: Final = frozenset({MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})

ANNOTATION_TITLE: Final = "org.opencontainers.image.title"
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED: Final = "org.opencontainers.image.created"
ANNOTATION_VERSION: Final = "org.opencontainers.image.version"
ANNOTATION_AUTHORS: Final = "org.opencontainers.image.authors"
ANNOTATION_DESCRIPTION: Final = "org.opencontainers.image.description"

EMPTY_JSON: Final = b"{}"
EMPTY_DIGEST: Final = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#: distribution-spec: clients and registries should handle manifests up to 4 MiB
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024


def is_manifest_media_type(media_type: str) -> bool:
    return media_type in MANIFEST_MEDIA_TYPES


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class _Model(BaseModel):
    # keep fields we do not know (forward compatibility); serialize by the spec's camelCase names
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Platform(_Model):
    architecture: str
    os: str
    os_version: str | None = Field(default=None, alias="os.version")
    os_features: list[str] | None = Field(default=None, alias="os.features")
    variant: str | None = None


class Descriptor(_Model):
    media_type: str = Field(alias="mediaType")
    digest: str
    size: int = Field(ge=0)
    urls: list[str] | None = None
    annotations: dict[str, str] | None = None
    data: str | None = None
    artifact_type: str | None = Field(default=None, alias="artifactType")
    platform: Platform | None = None

    @field_validator("digest")
    @classmethod
    def _valid_digest(cls, value: str) -> str:
        return validate_digest(value)

    @classmethod
    def from_bytes(
        cls, media_type: str, data: bytes, *, annotations: dict[str, str] | None = None, **extra: Any
    ) -> Descriptor:
        return cls(
            mediaType=media_type,
            digest=digest_bytes(data),
            size=len(data),
            annotations=annotations or None,
            **extra,
        )

    @property
    def title(self) -> str | None:
        return (self.annotations or {}).get(ANNOTATION_TITLE)

    def short(self) -> Descriptor:
        """The descriptor with only what identifies content (no annotations or platform)."""
        return Descriptor(media_type=self.media_type, digest=self.digest, size=self.size)


EMPTY_DESCRIPTOR: Final = Descriptor(media_type=MEDIA_TYPE_EMPTY, digest=EMPTY_DIGEST, size=2, data="e30=")


class ImageManifest(_Model):
    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=MEDIA_TYPE_IMAGE_MANIFEST, alias="mediaType")
    artifact_type: str | None = Field(default=None, alias="artifactType")
    config: Descriptor
    layers: list[Descriptor] = Field(default_factory=list)
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json_dict())


class ImageIndex(_Model):
    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=MEDIA_TYPE_IMAGE_INDEX, alias="mediaType")
    artifact_type: str | None = Field(default=None, alias="artifactType")
    manifests: list[Descriptor] = Field(default_factory=list)
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json_dict())


def load_json_object(data: bytes, what: str, error: type[MsrOciError] = InvalidManifest) -> dict[str, Any]:
    """Parse untrusted bytes that must hold one JSON object; anything else raises ``error``."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value


def parse_manifest(data: bytes, media_type: str | None = None) -> ImageManifest | ImageIndex:
    """Parse manifest bytes; the media type from the transport is used when the document has none."""
    if len(data) > MAX_MANIFEST_SIZE:
        raise InvalidManifest(f"manifest of {len(data)} bytes exceeds the {MAX_MANIFEST_SIZE}-byte limit")
    value = load_json_object(data, "manifest")
    declared = value.get("mediaType") or media_type
    try:
        if declared in INDEX_MEDIA_TYPES or (declared is None and "manifests" in value):
            return ImageIndex.model_validate(value)
        return ImageManifest.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidManifest(f"manifest field {where!r}: {first['msg']}") from None


def successors(manifest: ImageManifest | ImageIndex) -> list[Descriptor]:
    """Descriptors a manifest points to (config and layers, or an index's manifests); not the subject."""
    if isinstance(manifest, ImageIndex):
        return list(manifest.manifests)
    return [manifest.config, *manifest.layers]


def referrer_descriptor(descriptor: Descriptor, manifest: ImageManifest | ImageIndex) -> Descriptor:
    """A referrers-list entry: the manifest's descriptor with its artifact type and annotations."""
    artifact_type = manifest.artifact_type
    if artifact_type is None and isinstance(manifest, ImageManifest):
        artifact_type = manifest.config.media_type
    return Descriptor(
        media_type=descriptor.media_type,
        digest=descriptor.digest,
        size=descriptor.size,
        artifact_type=artifact_type,
        annotations=manifest.annotations or None,
    )
