"""The alias log's format (pure): entries that record every move of an alias.

Aliases (MLflow-style ``production``, ``staging``) have a history that survives every move.

An alias is two things in the revision's repository:

* the tag ``<alias>`` pointing at the revision manifest, so any OCI tool can pull ``name:production``;
* the alias log, a chain of tiny manifests under the tag ``_alias.<alias>``: each entry records the
  version and digest the alias was set to, when, by whom, and the digest of the previous entry.
  ``rollback`` and ``alias history`` walk this chain (MLflow keeps no such history, mlflow#2169).

The log is written before the tag moves, so a crash in between leaves a log one entry ahead,
never an alias pointing at something the log does not know. ``AliasStore`` (aliases.py) is the one
writer of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from msr_oci.errors import InputError, InvalidManifest
from msr_oci.oci import (
    ANNOTATION_CREATED,
    EMPTY_DESCRIPTOR,
    Descriptor,
    ImageManifest,
    canonical_json,
    is_tag,
)
from msr_oci.oci.content import ANNOTATION_AUTHORS, MEDIA_TYPE_IMAGE_MANIFEST
from msr_oci.registry.refs import ALIAS_LOG_PREFIX
from msr_oci.revision.versions import parse_semver

ALIAS_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.alias.v1+json"
_ANN: Final = "ai.backend.model-serving.alias"
ANN_ALIAS: Final = _ANN
ANN_VERSION: Final = f"{_ANN}.version"
ANN_DIGEST: Final = f"{_ANN}.digest"
ANN_PREVIOUS: Final = f"{_ANN}.previous"
ANN_ACTION: Final = f"{_ANN}.action"

ACTION_SET: Final = "set"
ACTION_REMOVE: Final = "remove"
ACTION_ROLLBACK: Final = "rollback"


class InvalidAlias(InputError):
    def __init__(self, alias: str, reason: str) -> None:
        super().__init__(
            f"invalid alias {alias!r}: {reason}",
            hint="aliases are tag-like names such as 'production' or 'staging' and may not start with '_'",
        )


#: alias names that mean something else to users of registries (docker's `latest` is "newest push")
RESERVED_ALIASES = frozenset({"latest"})


def validate_alias(alias: str) -> str:
    if not is_tag(alias):
        raise InvalidAlias(alias, "must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
    if alias.startswith("_"):
        raise InvalidAlias(alias, "names starting with '_' are reserved")
    if alias in RESERVED_ALIASES:
        raise InvalidAlias(alias, "is reserved (a bare NAME already means its latest stable version)")
    if parse_semver(alias) is not None:
        raise InvalidAlias(alias, "reads as a version; an alias needs a name such as 'production'")
    if len(ALIAS_LOG_PREFIX + alias) > 128:
        raise InvalidAlias(alias, "is too long")
    return alias


def log_tag(alias: str) -> str:
    return ALIAS_LOG_PREFIX + alias


@dataclass(frozen=True)
class AliasEntry:
    """One move of an alias. ``version``/``digest`` are ``None`` for a removal."""

    alias: str
    version: str | None
    digest: str | None
    action: str
    at: datetime
    by: str | None
    entry_digest: str
    previous: str | None

    @property
    def active(self) -> bool:
        return self.action != ACTION_REMOVE and self.digest is not None


def encode_entry(
    alias: str,
    *,
    version: str | None,
    digest: str | None,
    action: str,
    by: str | None,
    previous: str | None,
    at: datetime | None = None,
) -> tuple[Descriptor, bytes]:
    """The log entry manifest for one alias move (pure)."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    annotations = {
        ANN_ALIAS: alias,
        ANN_ACTION: action,
        ANN_VERSION: version or "",
        ANN_DIGEST: digest or "",
        ANN_PREVIOUS: previous or "",
        ANNOTATION_CREATED: when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if by:
        annotations[ANNOTATION_AUTHORS] = by
    manifest = ImageManifest(
        artifact_type=ALIAS_ARTIFACT_TYPE,
        config=EMPTY_DESCRIPTOR,
        layers=[EMPTY_DESCRIPTOR],
        annotations=annotations,
    )
    data = canonical_json(manifest.to_json_dict())
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, data, artifact_type=ALIAS_ARTIFACT_TYPE), data


def decode_entry(manifest: ImageManifest, entry_digest: str) -> AliasEntry:
    annotations = manifest.annotations or {}
    if manifest.artifact_type != ALIAS_ARTIFACT_TYPE or ANN_ALIAS not in annotations:
        raise InvalidManifest(f"{entry_digest} is not an alias log entry")
    try:
        at = datetime.fromisoformat(annotations.get(ANNOTATION_CREATED, "").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidManifest(f"alias log entry {entry_digest} has a bad creation time") from None
    return AliasEntry(
        alias=annotations[ANN_ALIAS],
        version=annotations.get(ANN_VERSION) or None,
        digest=annotations.get(ANN_DIGEST) or None,
        action=annotations.get(ANN_ACTION, ACTION_SET),
        at=at,
        by=annotations.get(ANNOTATION_AUTHORS),
        entry_digest=entry_digest,
        previous=annotations.get(ANN_PREVIOUS) or None,
    )
