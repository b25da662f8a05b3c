"""Revision <-> OCI artifact. Pure: bytes and descriptors in, bytes and descriptors out, no I/O.

Extra files are handed on as ``Path`` content so they stream from disk and are never read whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import yaml

from msr_oci.errors import InputError, UnsafePath
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
from msr_oci.oci.target import Content
from msr_oci.revision.errors import InvalidRevision, InvalidRevisionRecord, NotARevision
from msr_oci.revision.paths import check_relative_path, check_unique_paths
from msr_oci.revision.revision import (
    DEPLOYMENT_CONFIG_FILE,
    MODEL_DEFINITION_FILE,
    DocumentFile,
    DocumentRole,
    ModelServingRevision,
    format_timestamp,
    reading_stored_records,
)
from msr_oci.revision.service_configuration import FILE_KEYS, ServiceConfiguration
from msr_oci.revision.summary import summary_annotations

__all__ = [
    "ANNOTATION_FILE_MODE",
    "ANNOTATION_SUPERSEDES",
    "ARTIFACT_TYPE",
    "ARTIFACT_TYPE_V1",
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
    "file_mode",
    "revision_files",
    "service_file_view",
]

# v2: every file is a layer with the user's exact bytes, name and mode; v1 (read only) re-rendered them
ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.revision.v2+json"
MEDIA_TYPE_CONFIG: Final = "application/vnd.backend.ai.model-serving.revision.config.v2+json"
ARTIFACT_TYPE_V1: Final = "application/vnd.backend.ai.model-serving.revision.v1+json"
MEDIA_TYPE_CONFIG_V1: Final = "application/vnd.backend.ai.model-serving.revision.config.v1+json"
MEDIA_TYPE_MODEL_DEFINITION: Final = "application/vnd.backend.ai.model-definition.v1+yaml"
MEDIA_TYPE_SERVICE_CONFIGURATION: Final = "application/vnd.backend.ai.service-configuration.v1+yaml"
MEDIA_TYPE_SERVICE_CONFIGURATION_TOML: Final = "application/vnd.backend.ai.service-configuration.v1+toml"
MEDIA_TYPE_REVISION_FILE: Final = "application/vnd.backend.ai.model-serving.revision-file.v1+yaml"
ANNOTATION_SUPERSEDES: Final = "ai.backend.model-serving.supersedes"
#: permission bits of a file, as 4 octal digits ("0755"); absent: the reader's default
ANNOTATION_FILE_MODE: Final = "ai.backend.model-serving.file.mode"

_CONFIG_TYPES: Final = {MEDIA_TYPE_CONFIG: ARTIFACT_TYPE, MEDIA_TYPE_CONFIG_V1: ARTIFACT_TYPE_V1}
#: fields of the record that are not stored in the artifact: they depend on where it is stored
_NOT_STORED: Final = frozenset({"id", "digest", "aliases"})
#: computed on encode for readers that do not apply Backend.AI's defaults themselves; never read back
_RESOLVED: Final = "resolved"


@dataclass(frozen=True)
class EncodedRevision:
    manifest: ImageManifest
    #: canonical JSON: the same revision always gives the same bytes and digest
    manifest_bytes: bytes
    #: the manifest's descriptor (digest, size, media type, artifactType)
    descriptor: Descriptor
    #: config first, then documents (bytes), then extra files (``Path``, streamed)
    blobs: list[tuple[Descriptor, Content]]
    #: files without local content: the destination must already hold them (a revision read back)
    referenced: list[Descriptor]


def service_file_view(configuration: ServiceConfiguration) -> dict[str, Any]:
    """The part of a service configuration that Backend.AI reads from the file."""
    return {k: v for k, v in configuration.to_document().items() if k in FILE_KEYS}


def _canonical_yaml(document: dict[str, Any]) -> bytes:
    # written for revisions built through the API: only what was set, in the order it was given
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text.encode("utf-8")


def _generated(role: DocumentRole, path: str, media_type: str, data: bytes, mode: int | None) -> DocumentFile:
    descriptor = Descriptor.from_bytes(media_type, data)
    return DocumentFile(
        role=role,
        path=path,
        digest=descriptor.digest,
        size=descriptor.size,
        media_type=media_type,
        mode=mode,
        content=data,
    )


def _documents(revision: ModelServingRevision) -> list[DocumentFile]:
    """The documents as the user wrote them; re-rendered (no defaults) only where the record was
    changed after reading them, or where there never was a file."""
    documents: list[DocumentFile] = []
    definition = revision.document("model-definition")
    view = revision.model_definition.to_document()
    if definition is not None and definition.view in (None, view):
        documents.append(definition)
    else:
        path = (
            definition.path
            if definition is not None and definition.path.endswith((".yaml", ".yml"))
            else (MODEL_DEFINITION_FILE)
        )
        mode = definition.mode if definition is not None else None
        documents.append(
            _generated("model-definition", path, MEDIA_TYPE_MODEL_DEFINITION, _canonical_yaml(view), mode)
        )
    service = revision.document("service-configuration")
    if service is not None and service.view in (None, service_file_view(revision.service_configuration)):
        documents.append(service)
    elif service is not None or revision.service_configuration.to_document():
        data = _canonical_yaml(revision.service_configuration.to_document())
        mode = service.mode if service is not None else None
        documents.append(
            _generated(
                "service-configuration", DEPLOYMENT_CONFIG_FILE, MEDIA_TYPE_SERVICE_CONFIGURATION, data, mode
            )
        )
    revision_file = revision.document("revision")
    if revision_file is not None:
        documents.append(revision_file)
    return documents


def _record(revision: ModelServingRevision) -> dict[str, Any]:
    record = revision.model_dump(mode="json", exclude=set(_NOT_STORED))
    assert isinstance(record, dict)
    # the documents hold what the user set; defaults are applied by Backend.AI, never written back
    record["model_definition"] = revision.model_definition.to_document()
    record["service_configuration"] = revision.service_configuration.to_document()
    record[_RESOLVED] = {
        "model_definition": revision.model_definition.resolved(),
        "service_configuration": revision.service_configuration.resolved(),
    }
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
    annotations.update(summary_annotations(revision))  # a filter then needs no config
    return annotations


def _file_annotations(path: str, mode: int | None) -> dict[str, str]:
    annotations = {ANNOTATION_TITLE: path}
    if mode is not None:
        annotations[ANNOTATION_FILE_MODE] = f"{mode:04o}"
    return annotations


def encode_revision(revision: ModelServingRevision) -> EncodedRevision:
    """The artifact for a revision. Extra files must already be described (digest and size)."""
    documents = _documents(revision)
    revision = revision.model_copy(update={"documents": documents})
    config = canonical_json(_record(revision))
    config_descriptor = Descriptor.from_bytes(MEDIA_TYPE_CONFIG, config)
    blobs: list[tuple[Descriptor, Content]] = [(config_descriptor, config)]
    layers: list[Descriptor] = []
    referenced: list[Descriptor] = []
    for document in documents:
        descriptor = Descriptor(
            media_type=document.media_type,
            digest=document.digest,
            size=document.size,
            annotations=_file_annotations(document.path, document.mode),
        )
        layers.append(descriptor)
        if document.content is not None:
            verify_bytes(document.content, document.digest, document.size, document.path)
            blobs.append((descriptor, document.content))
        else:
            referenced.append(descriptor)
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
            annotations=_file_annotations(extra.path, extra.mode),
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


def file_mode(descriptor: Descriptor) -> int | None:
    """The permission bits a layer was published with (rwx only), or None."""
    text = (descriptor.annotations or {}).get(ANNOTATION_FILE_MODE)
    if text is None:
        return None
    if not re.fullmatch(r"0?[0-7]{3}", text):
        raise InvalidRevisionRecord(f"layer {descriptor.digest}: file mode {text!r} is not 4 octal digits")
    return int(text, 8)


def check_artifact(manifest: ImageManifest | ImageIndex) -> None:
    """Raise ``NotARevision`` unless ``manifest`` is a model serving revision."""
    if not isinstance(manifest, ImageManifest):
        raise NotARevision(
            "this reference points to an image index, not a model serving revision",
            hint="give the reference of a revision pushed by msr (name:version or name@digest)",
        )
    expected_type = _CONFIG_TYPES.get(manifest.config.media_type)
    if expected_type is None:
        kind = manifest.artifact_type or manifest.config.media_type
        raise NotARevision(
            f"not a model serving revision: the artifact is {kind!r}, expected {ARTIFACT_TYPE!r} "
            f"with a {MEDIA_TYPE_CONFIG!r} config",
            hint="this repository or tag holds other content (a container image or another artifact)",
        )
    if manifest.artifact_type not in (None, expected_type):
        raise NotARevision(
            f"not a model serving revision: artifactType is {manifest.artifact_type!r}, "
            f"expected {expected_type!r}"
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
    for key in (*_NOT_STORED, _RESOLVED):
        record.pop(key, None)
    record["digest"] = digest
    if reference_name is not None:
        record["id"] = f"{reference_name}@{digest}"
    if manifest.config.media_type == MEDIA_TYPE_CONFIG_V1:
        record["documents"] = _v1_documents(manifest)
    try:
        with reading_stored_records():
            revision = ModelServingRevision.model_validate(record)
    except InvalidRevision as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRevisionRecord(
            f"revision config {manifest.config.digest}: field {where!r}: {first['msg']}"
        ) from None
    _check_layers(manifest, revision)
    # what the stored documents say, so an edit of the record through the API is noticed on publish
    views = {
        "model-definition": revision.model_definition.to_document(),
        "service-configuration": service_file_view(revision.service_configuration),
    }
    documents = [d.model_copy(update={"view": views.get(d.role)}) for d in revision.documents]
    return revision.model_copy(update={"documents": documents})


def _v1_documents(manifest: ImageManifest) -> list[dict[str, Any]]:
    """v1 artifacts held the two documents, re-rendered by msr, as the first two layers."""
    titles = [layer.title for layer in manifest.layers]
    if titles[:2] != [MODEL_DEFINITION_FILE, DEPLOYMENT_CONFIG_FILE]:
        raise InvalidRevisionRecord(
            f"revision layers must start with {MODEL_DEFINITION_FILE} and {DEPLOYMENT_CONFIG_FILE}, "
            f"found {titles[:2]}"
        )
    roles = ("model-definition", "service-configuration")
    return [
        {
            "role": role,
            "path": layer.title,
            "digest": layer.digest,
            "size": layer.size,
            "media_type": layer.media_type,
        }
        for role, layer in zip(roles, manifest.layers[:2], strict=True)
    ]


def _check_layers(manifest: ImageManifest, revision: ModelServingRevision) -> None:
    """The layers must be exactly the documents and extra files the record lists, in that order."""
    listed: list[tuple[str | None, str | None, int | None, int | None]]
    listed = [(d.path, d.digest, d.size, d.mode) for d in revision.documents]
    listed += [(f.path, f.digest, f.size, f.mode) for f in revision.extra_files]
    v1 = manifest.config.media_type == MEDIA_TYPE_CONFIG_V1
    carried = [
        (layer.title, layer.digest, layer.size, None if v1 else file_mode(layer)) for layer in manifest.layers
    ]
    if listed != carried:
        raise InvalidRevisionRecord("the revision's files do not match the manifest's layers")
