"""The Model Serving Revision record (BEP-1009's fields plus registry metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from msr_oci.errors import InvalidReference, UnsafePath
from msr_oci.oci.digest import validate_digest
from msr_oci.oci.reference import is_tag, validate_repository
from msr_oci.revision.errors import ImmutableRecord, InvalidRevision
from msr_oci.revision.labels import label_problems, metric_problems
from msr_oci.revision.model_definition import ModelDefinition
from msr_oci.revision.paths import check_relative_path, check_unique_paths
from msr_oci.revision.service_configuration import ServiceConfiguration
from msr_oci.revision.versions import check_version

__all__ = [
    "DEPLOYMENT_CONFIG_FILE",
    "MODEL_DEFINITION_FILE",
    "REVISION_FILE",
    "DocumentFile",
    "ExtraFile",
    "Lineage",
    "ModelServingRevision",
    "format_timestamp",
    "reading_stored_records",
]

MODEL_DEFINITION_FILE: Final = "model-definition.yaml"
DEPLOYMENT_CONFIG_FILE: Final = "deployment-config.yaml"
#: registry metadata (description, labels, metrics, ...) as the user wrote it
REVISION_FILE: Final = "revision.yaml"
DEFAULT_FILE_MEDIA_TYPE: Final = "application/octet-stream"

# one repository path component of the distribution reference grammar
_NAME_MAX: Final = 128

Metric = Annotated[float, Field(allow_inf_nan=False)]

#: set while a record read back from a registry is validated: rules for new input (label names)
#: are not applied to it, so what an older msr-oci stored stays readable (a context variable, as
#: pydantic hands no validation context through a model's own ``__init__``)
_READING_STORED: ContextVar[bool] = ContextVar("msr_reading_stored_records", default=False)


@contextmanager
def reading_stored_records() -> Iterator[None]:
    """Validate revisions read back from a registry: only the rules every stored record meets."""
    token = _READING_STORED.set(True)
    try:
        yield
    finally:
        _READING_STORED.reset(token)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a 'Z'; microseconds only when present, so equal times give equal text."""
    value = value.astimezone(UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(pattern)


class _Record(BaseModel):
    # immutable: a revision is a record of what was published; change it with model_copy(update=...),
    # which the registry validates again at its boundary (ModelServingRevision.checked)
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic's frozen check raises its own ValidationError: callers get the library's error
        raise ImmutableRecord(
            f"{type(self).__name__}.{name} cannot be assigned: revisions are immutable records",
            hint=f"make a changed copy with .model_copy(update={{{name!r}: ...}})",
        )


class Lineage(_Record):
    """Where a revision came from."""

    #: the revision this one derives from (an id or a reference such as "name:1.0.0")
    parent: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    dataset_version: str | None = None
    code_commit: str | None = None
    #: free text or a URL: the training pipeline, notebook, or repository
    source: str | None = None


def _mode_bits(mode: int) -> int:
    if not 0 <= mode <= 0o777:
        raise ValueError("must be permission bits (0 to 0o777)")
    return mode


def _relative_path(path: str) -> str:
    try:
        check_relative_path(path)
    except UnsafePath as exc:
        raise ValueError(str(exc)) from None
    return path


#: a file's path inside the revision: relative, no ``..``, no absolute or Windows forms
RelativePath = Annotated[str, AfterValidator(_relative_path)]
#: an OCI content digest (``sha256:<64 hex>``)
Digest = Annotated[str, AfterValidator(validate_digest)]
#: permission bits as written (rwx only)
PermissionBits = Annotated[int, AfterValidator(_mode_bits)]


class ExtraFile(_Record):
    """A file carried by a revision besides its documents (tokenizer, chat template, start.sh...)."""

    #: relative POSIX path inside the revision directory
    path: RelativePath
    #: a local file to push; never stored in the artifact
    source: Path | None = Field(default=None, exclude=True)
    digest: Digest | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    media_type: str = DEFAULT_FILE_MEDIA_TYPE
    #: None: the reader's default (0644)
    mode: PermissionBits | None = None


DocumentRole = Literal["model-definition", "service-configuration", "revision"]


class DocumentFile(_Record):
    """One of the revision's own documents as the user wrote it: name, bytes and mode kept exactly."""

    role: DocumentRole
    #: the file name as written (``model-definition.yml`` stays ``.yml``)
    path: RelativePath
    digest: Digest
    size: Annotated[int, Field(ge=0)]
    media_type: str
    mode: PermissionBits | None = None
    #: the exact bytes, when read from disk; not stored in the record (the layer holds them)
    content: bytes | None = Field(default=None, exclude=True, repr=False)
    #: the parsed view these bytes gave, to notice a record edited through the API afterwards
    view: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)


def _check_name(name: str) -> str:
    try:
        valid = "/" not in name and len(name) <= _NAME_MAX and bool(validate_repository(name))
    except InvalidReference:
        valid = False
    if not valid:
        raise ValueError(
            "must be lowercase letters and digits, optionally separated by '.', '_', '__' or '-' "
            f"(a repository name component, at most {_NAME_MAX} characters), e.g. 'llama-3.1-8b'"
        )
    return name


class ModelServingRevision(_Record):
    """One immutable revision of a model service: what to run and how to deploy it."""

    #: "<repository>@<manifest digest>" once stored; ignored on input
    id: str | None = None
    name: str
    version: str
    model_definition: ModelDefinition
    service_configuration: ServiceConfiguration = Field(default_factory=ServiceConfiguration)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None

    #: digest of the stored manifest; set when read from a registry
    digest: Digest | None = None
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    extra_files: list[ExtraFile] = Field(default_factory=list)
    #: the files the documents were read from; empty for a revision built through the API
    documents: list[DocumentFile] = Field(default_factory=list)
    #: manifest digest of the revision this one replaced for the same version (set by update_revision)
    supersedes: Digest | None = None
    #: alias names pointing at this revision; derived from the registry, never stored in the artifact
    aliases: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return _check_name(name)

    @field_validator("version")
    @classmethod
    def _valid_version(cls, version: str) -> str:
        return check_version(version)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a timezone (e.g. '2025-01-20T12:30:00Z')")
        return value.astimezone(UTC)

    @field_validator("labels", "metrics")
    @classmethod
    def _plain_names(cls, values: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if _READING_STORED.get():
            return values
        problems = label_problems(values) if info.field_name == "labels" else metric_problems(values)
        if problems:
            raise ValueError(problems[0])
        return values

    @field_validator("aliases")
    @classmethod
    def _tag_safe_aliases(cls, aliases: list[str]) -> list[str]:
        for alias in aliases:
            if not is_tag(alias):
                raise ValueError(f"alias {alias!r} is not tag-safe")
        return aliases

    @model_validator(mode="after")
    def _distinct_files(self) -> ModelServingRevision:
        documents = [d.path for d in self.documents] or [MODEL_DEFINITION_FILE, DEPLOYMENT_CONFIG_FILE]
        try:
            check_unique_paths([*documents, *(f.path for f in self.extra_files)])
        except UnsafePath as exc:
            raise ValueError(f"extra_files: {exc}") from None
        roles = [d.role for d in self.documents]
        if len(set(roles)) != len(roles):
            raise ValueError("documents: one file per role")
        return self

    def document(self, role: DocumentRole) -> DocumentFile | None:
        return next((d for d in self.documents if d.role == role), None)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidRevision([dict(error) for error in exc.errors()]) from None

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> ModelServingRevision:
        """As pydantic's, raising ``InvalidRevision`` (an ``InputError``) instead of ValidationError."""
        if isinstance(obj, dict) and strict is None and context is None and not from_attributes:
            # through __init__, which pydantic calls for a model that defines one: its error is the
            # precise one (pydantic would otherwise wrap it as a value error of the whole record)
            return cls(**obj)
        try:
            return super().model_validate(
                obj, strict=strict, from_attributes=from_attributes, context=context, **kwargs
            )
        except ValidationError as exc:
            raise InvalidRevision([dict(error) for error in exc.errors()]) from None

    @classmethod
    def checked(cls, revision: ModelServingRevision) -> ModelServingRevision:
        """The revision validated again, field by field: what ``model_copy(update=...)`` put in without
        validation (a dict where a model belongs) is converted, or raises ``InvalidRevision``."""
        fields = {name: getattr(revision, name) for name in cls.model_fields}
        return cls.model_validate(fields)

    @field_serializer("created_at", "updated_at", when_used="json")
    def _timestamp(self, value: datetime | None) -> str | None:
        return None if value is None else format_timestamp(value)
