"""Revision <-> OCI artifact. Pure: bytes and descriptors in, bytes and descriptors out, no I/O.

Extra files are handed on as ``Path`` content so they stream from disk and are never read whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import ValidationError

from msr_oci.oci.content import (
    ANNOTATION_AUTHORS,
    ANNOTATION_CREATED,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_TITLE,
    ANNOTATION_VERSION,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageIndex,
    ImageManifest,
    canonical_json,
    load_json_object,
)
from msr_oci.oci.digest import verify_bytes
from msr_oci.oci.errors import InputError, UnsafePath
from msr_oci.oci.target import Content
from msr_oci.revision.errors import InvalidRevisionRecord, NotARevision
from msr_oci.revision.paths import check_relative_path, check_unique_paths
from msr_oci.revision.revision import (
    DEPLOYMENT_CONFIG_FILE,
    MODEL_DEFINITION_FILE,
    ModelServingRevision,
    format_timestamp,
)

__all__ = [
    "ANNOTATION_SUPERSEDES",
    "ARTIFACT_TYPE",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_MODEL_DEFINITION",
    "MEDIA_TYPE_SERVICE_CONFIGURATION",
    "EncodedRevision",
    "check_artifact",
    "decode_revision",
    "encode_revision",
    "revision_files",
]

ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.revision.v1+json"
MEDIA_TYPE_CONFIG: Final = "application/vnd.backend.ai.model-serving.revision.config.v1+json"
MEDIA_TYPE_MODEL_DEFINITION: Final = "application/vnd.backend.ai.model-definition.v1+yaml"
MEDIA_TYPE_SERVICE_CONFIGURATION: Final = "application/vnd.backend.ai.service-configuration.v1+yaml"
ANNOTATION_SUPERSEDES: Final = "ai.backend.model-serving.supersedes"

#: fields of the record that are not stored in the artifact: they depend on where it is stored
_NOT_STORED: Final = frozenset({"id", "digest", "aliases"})


@dataclass(frozen=True)
class EncodedRevision:
    manifest: ImageManifest
    #: canonical JSON: the same revision always gives the same bytes and digest
    manifest_bytes: bytes
    #: the manifest's descriptor (digest, size, media type, artifactType)
    descriptor: Descriptor
    #: config first, then the two YAML layers (bytes), then extra files (``Path``, streamed)
    blobs: list[tuple[Descriptor, Content]]
    #: extra files without a local source: the destination must already hold them (a pulled revision)
    referenced: list[Descriptor]


def _yaml_bytes(document: dict[str, Any]) -> bytes:
    text = yaml.safe_dump(document, sort_keys=True, allow_unicode=True, default_flow_style=False)
    return text.encode("utf-8")


def _record(revision: ModelServingRevision) -> dict[str, Any]:
    record = revision.model_dump(mode="json", exclude=set(_NOT_STORED))
    assert isinstance(record, dict)
    return record


def _annotations(revision: ModelServingRevision) -> dict[str, str]:
    annotations = {ANNOTATION_TITLE: revision.name, ANNOTATION_VERSION: revision.version}
    if revision.created_at is not None:
        annotations[ANNOTATION_CREATED] = format_timestamp(revision.created_at)
    if revision.created_by:
        annotations[ANNOTATION_AUTHORS] = revision.created_by
    if revision.description:
        annotations[ANNOTATION_DESCRIPTION] = revision.description
    if revision.supersedes:
        annotations[ANNOTATION_SUPERSEDES] = revision.supersedes
    return annotations


def encode_revision(revision: ModelServingRevision) -> EncodedRevision:
    """The artifact for a revision. Extra files must already be described (digest and size)."""
    config = canonical_json(_record(revision))
    config_descriptor = Descriptor.from_bytes(MEDIA_TYPE_CONFIG, config)
    documents = [
        (MODEL_DEFINITION_FILE, MEDIA_TYPE_MODEL_DEFINITION, revision.model_definition.to_document()),
        (
            DEPLOYMENT_CONFIG_FILE,
            MEDIA_TYPE_SERVICE_CONFIGURATION,
            revision.service_configuration.to_document(),
        ),
    ]
    blobs: list[tuple[Descriptor, Content]] = [(config_descriptor, config)]
    layers: list[Descriptor] = []
    for title, media_type, document in documents:
        data = _yaml_bytes(document)
        descriptor = Descriptor.from_bytes(media_type, data, annotations={ANNOTATION_TITLE: title})
        blobs.append((descriptor, data))
        layers.append(descriptor)
    referenced: list[Descriptor] = []
    for extra in revision.extra_files:
        if extra.digest is None or extra.size is None:
            raise InputError(
                f"extra file {extra.path!r} has no digest or size",
                hint="describe it with msr_oci.revision.loader.describe_extra_file(path)",
            )
        descriptor = Descriptor(
            media_type=extra.media_type,
            digest=extra.digest,
            size=extra.size,
            annotations={ANNOTATION_TITLE: extra.path},
        )
        layers.append(descriptor)
        if extra.source is not None:
            blobs.append((descriptor, extra.source))
        else:
            referenced.append(descriptor)
    manifest = ImageManifest(
        media_type=MEDIA_TYPE_IMAGE_MANIFEST,
        artifact_type=ARTIFACT_TYPE,
        config=config_descriptor,
        layers=layers,
        annotations=_annotations(revision),
    )
    manifest_bytes = manifest.to_bytes()
    descriptor = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, manifest_bytes, artifact_type=ARTIFACT_TYPE)
    return EncodedRevision(manifest, manifest_bytes, descriptor, blobs, referenced)


def check_artifact(manifest: ImageManifest | ImageIndex) -> None:
    """Raise ``NotARevision`` unless ``manifest`` is a model serving revision."""
    if not isinstance(manifest, ImageManifest):
        raise NotARevision(
            "this reference points to an image index, not a model serving revision",
            hint="give the reference of a revision pushed by msr (name:version or name@digest)",
        )
    if manifest.config.media_type != MEDIA_TYPE_CONFIG:
        kind = manifest.artifact_type or manifest.config.media_type
        raise NotARevision(
            f"not a model serving revision: the artifact is {kind!r}, expected {ARTIFACT_TYPE!r} "
            f"with a {MEDIA_TYPE_CONFIG!r} config",
            hint="this repository or tag holds other content (a container image or another artifact)",
        )
    if manifest.artifact_type not in (None, ARTIFACT_TYPE):
        raise NotARevision(
            f"not a model serving revision: artifactType is {manifest.artifact_type!r}, "
            f"expected {ARTIFACT_TYPE!r}"
        )


def revision_files(manifest: ImageManifest) -> list[tuple[str, Descriptor]]:
    """The relative path of every layer, all checked safe and distinct before anything is written."""
    check_artifact(manifest)
    files: list[tuple[str, Descriptor]] = []
    for index, layer in enumerate(manifest.layers):
        title = layer.title
        if title is None:
            raise UnsafePath("", f"layer {index} ({layer.digest}) has no {ANNOTATION_TITLE} annotation")
        files.append((check_relative_path(title), layer))
    check_unique_paths(name for name, _ in files)
    return files


def decode_revision(
    manifest: ImageManifest, config_bytes: bytes, *, digest: str, reference_name: str | None = None
) -> ModelServingRevision:
    """The revision a manifest and its (verified here) config blob describe.

    ``id`` is ``f"{reference_name}@{digest}"`` when ``reference_name`` is given.
    """
    check_artifact(manifest)
    verify_bytes(config_bytes, manifest.config.digest, manifest.config.size, "revision config")
    what = f"revision config {manifest.config.digest}"
    record = load_json_object(config_bytes, what, InvalidRevisionRecord)
    for key in _NOT_STORED:
        record.pop(key, None)
    record["digest"] = digest
    if reference_name is not None:
        record["id"] = f"{reference_name}@{digest}"
    try:
        revision = ModelServingRevision.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRevisionRecord(
            f"revision config {manifest.config.digest}: field {where!r}: {first['msg']}"
        ) from None
    _check_layers(manifest, revision)
    return revision


def _check_layers(manifest: ImageManifest, revision: ModelServingRevision) -> None:
    """The layers must be the two documents and exactly the extra files the record lists."""
    titles = [layer.title for layer in manifest.layers]
    if titles[:2] != [MODEL_DEFINITION_FILE, DEPLOYMENT_CONFIG_FILE]:
        raise InvalidRevisionRecord(
            f"revision layers must start with {MODEL_DEFINITION_FILE} and {DEPLOYMENT_CONFIG_FILE}, "
            f"found {titles[:2]}"
        )
    listed = [(f.path, f.digest, f.size) for f in revision.extra_files]
    carried = [(layer.title, layer.digest, layer.size) for layer in manifest.layers[2:]]
    if listed != carried:
        raise InvalidRevisionRecord("the revision's extra_files do not match the manifest's layers")
