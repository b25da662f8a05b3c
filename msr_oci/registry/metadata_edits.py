"""Editing a version's labels, metrics or description without its files (MLflow's
``set_model_version_tag`` / ``update_model_version``, here as an update of the version).

An edit is ``update_revision`` with the same files: a new revision of the version (new digest,
``supersedes`` the old one, the version tag moved, the repository index entry rewritten with the
new summary annotations). Only the new config blob and manifest are uploaded: the files are
referenced by digest, already in the repository. The edit applies to the version's current
revision; aliases keep pointing at the revision they pinned (as after any update: signatures and
approvals belong to a digest), so the caller is told which ones stay behind.

A ``revision.yaml`` the revision carries is one of the user's files and is kept as written: the
record (``get``, ``list``) holds the edited values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msr_oci.errors import ConflictError, InputError
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.removal import require_version
from msr_oci.registry.revisions import Revisions
from msr_oci.registry.targets import Targets
from msr_oci.revision import ModelServingRevision, version_to_tag
from msr_oci.revision.labels import InvalidMetadata, check_labels, check_metric_names


def _edited(
    current: dict[str, Any], put: Mapping[str, Any] | None, remove: Iterable[str], what: str, where: str
) -> dict[str, Any]:
    edited = {**current, **(put or {})}
    for key in remove:
        if key in (put or {}):
            raise InputError(f"{what} {key!r} is both set and removed", hint="give it once")
        if key not in edited:
            have = ", ".join(sorted(current)) or "none"
            raise InputError(f"{where} has no {what} {key!r} ({what}s: {have})", hint="check the name")
        del edited[key]
    return edited


class MetadataEdits:
    def __init__(self, targets: Targets, reader: RevisionReader, revisions: Revisions) -> None:
        self.targets = targets
        self.reader = reader
        self.revisions = revisions

    async def update(
        self,
        revision_id: str,
        *,
        labels: Mapping[str, str] | None,
        remove_labels: Iterable[str],
        metrics: Mapping[str, float] | None,
        remove_metrics: Iterable[str],
        description: str | None,
    ) -> str:
        remove_labels, remove_metrics = list(remove_labels), list(remove_metrics)
        check_labels(labels or {})  # before any request: the rules push applies, named plainly
        check_metric_names(metrics or {})
        for name, value in (metrics or {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise InvalidMetadata(f"metric {name!r}: {value!r} is not a finite number")
        ref = self.targets.locate(revision_id)
        require_version(ref, revision_id)
        current = await self.reader.load(ref)
        version_tag = version_to_tag(current.version)
        if ref.tag != version_tag or ref.digest:
            head = await self.targets.target(ref).resolve(version_tag)
            if head.digest != current.digest:
                raise ConflictError(
                    f"{revision_id} is not the current revision of {current.name} {current.version} "
                    f"(that is {head.digest})",
                    hint=f"edit {current.name}:{current.version}",
                )
        where = f"{current.name} {current.version}"
        update: dict[str, Any] = {
            "labels": _edited(current.labels, labels, remove_labels, "label", where),
            "metrics": _edited(current.metrics, metrics, remove_metrics, "metric", where),
        }
        if description is not None:
            update["description"] = description or None  # "" clears it
        edited = ModelServingRevision.checked(current.model_copy(update=update))
        # by digest: the update reads the revision back from the cache, not by its tag again
        pinned = self.targets.revision_id(ref, current.digest or "")
        return await self.revisions.update(pinned, edited, progress=None)
