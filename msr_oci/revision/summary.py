"""What a listing filters on, carried as manifest annotations: a filter needs no config blob.

A revision manifest carries its name, version, creation time and author (OCI's standard
annotations) and, from format v2 on, its labels, metrics and runtime variant. ``summary_of`` reads
them back; a manifest without them (v1, or written before they were added) gives ``None`` and the
caller reads the config instead. The repository index (``registry/repository_index.py``) copies the
same annotations into its entries, so one document answers a filter over every version.

Pure: annotations in, a summary out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from msr_oci.oci.content import (
    ANNOTATION_AUTHORS,
    ANNOTATION_CREATED,
    ANNOTATION_TITLE,
    ANNOTATION_VERSION,
    canonical_json,
)
from msr_oci.revision.revision import ModelServingRevision

ANNOTATION_LABELS: Final = "ai.backend.model-serving.labels"
ANNOTATION_METRICS: Final = "ai.backend.model-serving.metrics"
ANNOTATION_RUNTIME_VARIANT: Final = "ai.backend.model-serving.runtime-variant"

#: the annotations a summary is made of (an index entry keeps these and drops the rest)
SUMMARY_ANNOTATIONS: Final = frozenset(
    {
        ANNOTATION_TITLE,
        ANNOTATION_VERSION,
        ANNOTATION_CREATED,
        ANNOTATION_AUTHORS,
        ANNOTATION_LABELS,
        ANNOTATION_METRICS,
        ANNOTATION_RUNTIME_VARIANT,
    }
)


@dataclass(frozen=True)
class RevisionSummary:
    """The fields a filter or a sort can look at, without the revision's config."""

    name: str
    version: str
    digest: str
    created_at: datetime | None
    created_by: str | None
    labels: dict[str, str]
    metrics: dict[str, float]
    runtime_variant: str | None
    aliases: list[str] = field(default_factory=list)


def summary_annotations(revision: ModelServingRevision) -> dict[str, str]:
    """The annotations beyond OCI's standard ones that make a manifest summarise its revision."""
    annotations = {
        ANNOTATION_LABELS: canonical_json(revision.labels).decode(),
        ANNOTATION_METRICS: canonical_json(revision.metrics).decode(),
    }
    variant = revision.service_configuration.runtime_variant
    if variant:
        annotations[ANNOTATION_RUNTIME_VARIANT] = str(getattr(variant, "value", variant))
    return annotations


def revision_summary(
    revision: ModelServingRevision, *, name: str, version: str, digest: str, aliases: list[str]
) -> RevisionSummary:
    """The summary of a whole revision (one whose manifest carries none), named where it was found."""
    variant = revision.service_configuration.runtime_variant
    return RevisionSummary(
        name=name,
        version=version,
        digest=digest,
        created_at=revision.created_at,
        created_by=revision.created_by,
        labels=dict(revision.labels),
        metrics=dict(revision.metrics),
        runtime_variant=None if variant is None else str(getattr(variant, "value", variant)),
        aliases=aliases,
    )


def _string_map(text: str) -> dict[str, str] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k): v for k, v in value.items()}


def _number_map(text: str) -> dict[str, float] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    numbers: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            return None
        numbers[str(key)] = float(number)
    return numbers


def summary_of(annotations: dict[str, str] | None, *, name: str, digest: str) -> RevisionSummary | None:
    """The summary a manifest's (or an index entry's) annotations give; ``None`` when they do not
    carry one, or carry one that does not parse (the config then decides)."""
    annotations = annotations or {}
    version = annotations.get(ANNOTATION_VERSION)
    labels = _string_map(annotations.get(ANNOTATION_LABELS, ""))
    metrics = _number_map(annotations.get(ANNOTATION_METRICS, ""))
    if version is None or labels is None or metrics is None:
        return None
    created: datetime | None = None
    if ANNOTATION_CREATED in annotations:
        try:
            created = datetime.fromisoformat(annotations[ANNOTATION_CREATED].replace("Z", "+00:00"))
        except ValueError:
            return None
    return RevisionSummary(
        name=name,
        version=version,
        digest=digest,
        created_at=created,
        created_by=annotations.get(ANNOTATION_AUTHORS),
        labels=labels,
        metrics=metrics,
        runtime_variant=annotations.get(ANNOTATION_RUNTIME_VARIANT),
    )
