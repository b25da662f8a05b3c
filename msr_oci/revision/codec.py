"""Revision <-> OCI artifact. Pure: bytes and descriptors in, bytes and descriptors out, no I/O.

Extra files are handed on as ``Path`` content so they stream from disk and are never read whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

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
    ExtraFile,
    ModelServingRevision,
    format_timestamp,
)

__all__ = [
    "ANNOTATION_FILE_MODE",
    "ANNOTATION_SUPERSEDES",
    "ARTIFACT_TYPE",
    "ARTIFACT_TYPE_V1",
    "DOCUMENT_MEDIA_TYPES",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_CONFIG_V1",
    "MEDIA_TYPE_MODEL_DEFINITION",
    "MEDIA_TYPE_REVISION_FILE",
    "MEDIA_TYPE_SERVICE_CONFIGURATION",
    "MEDIA_TYPE_SERVICE_CONFIGURATION_TOML",
    "EncodedRevision",
    "check_artifact",
    "decode_revision",
    "encode_revision",
    "layer_mode",
    "revision_files",
]

#: v2: every file as the user wrote it (name, bytes, mode); the record holds what the user set plus a
#: resolved view. v1 (read, never written): re-rendered YAML documents with every default written out.
ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.revision.v2+json"
MEDIA_TYPE_CONFIG: Final = "application/vnd.backend.ai.model-serving.revision.config.v2+json"
ARTIFACT_TYPE_V1: Final = "application/vnd.backend.ai.model-serving.revision.v1+json"
MEDIA_TYPE_CONFIG_V1: Final = "application/vnd.backend.ai.model-serving.revision.config.v1+json"
MEDIA_TYPE_MODEL_DEFINITION: Final = "application/vnd.backend.ai.model-definition.v1+yaml"
MEDIA_TYPE_SERVICE_CONFIGURATION: Final = "application/vnd.backend.ai.service-configuration.v1+yaml"
MEDIA_TYPE_SERVICE_CONFIGURATION_TOML: Final = "application/vnd.backend.ai.service-configuration.v1+toml"
MEDIA_TYPE_REVISION_FILE: Final = "application/vnd.backend.ai.model-serving.revision-file.v1+yaml"
#: the media types that mark a layer as one of the revision's own documents (not an extra file)
DOCUMENT_MEDIA_TYPES: Final = frozenset(
    {
        MEDIA_TYPE_MODEL_DEFINITION,
        MEDIA_TYPE_SERVICE_CONFIGURATION,
        MEDIA_TYPE_SERVICE_CONFIGURATION_TOML,
        MEDIA_TYPE_REVISION_FILE,
    }
)
ANNOTATION_SUPERSEDES: Final = "ai.backend.model-serving.supersedes"
#: a layer's permission bits as written, octal rwx only ("0755"); absent: 0644 is as good as any
ANNOTATION_FILE_MODE: Final = "ai.backend.model-serving.file.mode"
_CONFIG_TYPES: Final = {MEDIA_TYPE_CONFIG: ARTIFACT_TYPE, MEDIA_TYPE_CONFIG_V1: ARTIFACT_TYPE_V1}

#: fields of the record that are not stored in the artifact: they depend on where it is stored
_NOT_STORED: Final = frozenset({"id", "digest", "aliases"})
#: the record's key for the view with Backend.AI HEAD's defaults applied (never read back as input)
_RESOLVED: Final = "resolved"


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


def _as_set(model: BaseModel) -> dict[str, Any]:
    """Only what was set (from a file, or by the caller): no default is ever written."""
    data = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert isinstance(data, dict)
    return data


def _record(revision: ModelServingRevision) -> dict[str, Any]:
    record = revision.model_dump(mode="json", exclude=set(_NOT_STORED))
    assert isinstance(record, dict)
    record["model_definition"] = _as_set(revision.model_definition)
    record["service_configuration"] = _as_set(revision.service_configuration)
    # computed apart from what the user set: Backend.AI merges the set fields over its own defaults
    record[_RESOLVED] = {
        "model_definition": revision.model_definition.to_document(),
        "service_configuration": revision.service_configuration.to_document(),
    }
    return record


def _file_descriptor(file: ExtraFile) -> Descriptor:
    if file.digest is None or file.size is None:
        raise InputError(
            f"file {file.path!r} has no digest or size",
            hint="describe it with msr_oci.revision.loader.describe_extra_file(path)",
        )
    annotations = {ANNOTATION_TITLE: file.path}
    if file.mode is not None:
        annotations[ANNOTATION_FILE_MODE] = f"{file.mode:04o}"
    return Descriptor(media_type=file.media_type, digest=file.digest, size=file.size, annotations=annotations)


def layer_mode(layer: Descriptor) -> int | None:
    """The permission bits a layer's file had (rwx only), or None when not recorded or not octal."""
    text = (layer.annotations or {}).get(ANNOTATION_FILE_MODE)
    if text is None or not re.fullmatch(r"0?[0-7]{3}", text):
        return None
    return int(text, 8)


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


def _canonical_documents(revision: ModelServingRevision) -> list[tuple[Descriptor, bytes]]:
    """For revisions built in code (no files): YAML of only what was set."""
    documents = [
        (MODEL_DEFINITION_FILE, MEDIA_TYPE_MODEL_DEFINITION, _as_set(revision.model_definition)),
        (DEPLOYMENT_CONFIG_FILE, MEDIA_TYPE_SERVICE_CONFIGURATION, _as_set(revision.service_configuration)),
    ]
    rendered = []
    for title, media_type, document in documents:
        data = _yaml_bytes(document)
        rendered.append(
            (Descriptor.from_bytes(media_type, data, annotations={ANNOTATION_TITLE: title}), data)
        )
    return rendered


def encode_revision(revision: ModelServingRevision) -> EncodedRevision:
    """The artifact for a revision. Files must already be described (digest and size)."""
    config = canonical_json(_record(revision))
    config_descriptor = Descriptor.from_bytes(MEDIA_TYPE_CONFIG, config)
    blobs: list[tuple[Descriptor, Content]] = [(config_descriptor, config)]
    layers: list[Descriptor] = []
    referenced: list[Descriptor] = []
    if not revision.documents:
        for descriptor, data in _canonical_documents(revision):
            blobs.append((descriptor, data))
            layers.append(descriptor)
    for file in [*revision.documents, *revision.extra_files]:
        descriptor = _file_descriptor(file)
        layers.append(descriptor)
        if file.source is not None:
            blobs.append((descriptor, file.source))
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
    if manifest.config.media_type not in _CONFIG_TYPES:
        kind = manifest.artifact_type or manifest.config.media_type
        raise NotARevision(
            f"not a model serving revision: the artifact is {kind!r}, expected {ARTIFACT_TYPE!r} "
            f"with a {MEDIA_TYPE_CONFIG!r} config",
            hint="this repository or tag holds other content (a container image or another artifact)",
        )
    expected = _CONFIG_TYPES[manifest.config.media_type]
    if manifest.artifact_type not in (None, expected):
        raise NotARevision(
            f"not a model serving revision: artifactType is {manifest.artifact_type!r}, expected {expected!r}"
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
    record.pop(_RESOLVED, None)
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
    """v1: the two rendered documents, then exactly the extra files the record lists. v2: layers are
    told apart by media type; the documents and the extra files must be the ones the record lists."""
    if manifest.config.media_type == MEDIA_TYPE_CONFIG_V1:
        titles = [layer.title for layer in manifest.layers]
        if titles[:2] != [MODEL_DEFINITION_FILE, DEPLOYMENT_CONFIG_FILE]:
            raise InvalidRevisionRecord(
                f"revision layers must start with {MODEL_DEFINITION_FILE} and {DEPLOYMENT_CONFIG_FILE}, "
                f"found {titles[:2]}"
            )
        extra_layers = manifest.layers[2:]
    else:
        extra_layers = [layer for layer in manifest.layers if layer.media_type not in DOCUMENT_MEDIA_TYPES]
        documents = [layer for layer in manifest.layers if layer.media_type in DOCUMENT_MEDIA_TYPES]
        if sum(layer.media_type == MEDIA_TYPE_MODEL_DEFINITION for layer in documents) != 1:
            raise InvalidRevisionRecord(f"a revision carries exactly one {MEDIA_TYPE_MODEL_DEFINITION} layer")
        if revision.documents and _triples(revision.documents) != _layer_triples(documents):
            raise InvalidRevisionRecord("the revision's documents do not match the manifest's layers")
    if _triples(revision.extra_files) != _layer_triples(extra_layers):
        raise InvalidRevisionRecord("the revision's extra_files do not match the manifest's layers")


def _triples(files: list[ExtraFile]) -> list[tuple[str | None, str | None, int | None]]:
    return [(f.path, f.digest, f.size) for f in files]


def _layer_triples(layers: list[Descriptor]) -> list[tuple[str | None, str | None, int | None]]:
    return [(layer.title, layer.digest, layer.size) for layer in layers]
