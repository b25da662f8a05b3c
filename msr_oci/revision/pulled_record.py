"""The ``revision.yaml`` that ``msr pull`` writes when a revision has none of its own.

A revision published with ``--label``/``--description`` (or through the API) carries its description,
labels, metrics, parameters, lineage and metadata in its record, not in a file. Pull writes them
into ``revision.yaml`` so that pull, edit, ``push --update`` keeps them. The file starts with
``GENERATED_HEADER``: the loader reads its fields but does not publish the file, so a pulled
directory pushed again is the same revision (same files, same record). Deleting the header makes it
an ordinary ``revision.yaml``, published as written.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from msr_oci.revision.errors import InvalidRevision
from msr_oci.revision.revision import ModelServingRevision

__all__ = [
    "GENERATED_HEADER",
    "RECORD_FIELDS",
    "fields_missing_from",
    "is_generated_revision_file",
    "render_revision_file",
]

#: the first line of a revision.yaml written by msr pull
GENERATED_HEADER: Final = b"# Written by msr pull from the revision record: msr push reads these fields"
_EXPLANATION: Final = (
    b" but does not\n"
    b"# publish this file. Edit them and push with --update. Delete these two lines to publish it.\n"
)
#: what revision.yaml can carry, in the order written (created_by is the author, not content)
RECORD_FIELDS: Final = ("description", "labels", "metrics", "parameters", "lineage", "metadata")


def _record_fields(revision: ModelServingRevision) -> dict[str, Any]:
    dumped = revision.model_dump(mode="json", include=set(RECORD_FIELDS), exclude_none=True)
    lineage = {k: v for k, v in dumped.get("lineage", {}).items() if v is not None}
    dumped["lineage"] = lineage
    return {key: dumped[key] for key in RECORD_FIELDS if dumped.get(key) not in (None, {}, [])}


def render_revision_file(revision: ModelServingRevision) -> bytes | None:
    """The generated revision.yaml: the header, then the record's non-empty fields; ``None`` when
    the record has none (then pull writes no file: the pulled files are exactly the revision's)."""
    fields = _record_fields(revision)
    if not fields:
        return None
    body = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return GENERATED_HEADER + _EXPLANATION + body.encode("utf-8")


def is_generated_revision_file(content: bytes) -> bool:
    """Whether a revision.yaml is msr pull's (read, not published)."""
    return content.startswith(GENERATED_HEADER)


def fields_missing_from(revision: ModelServingRevision, document: dict[str, Any]) -> list[str]:
    """The record fields a revision's own revision.yaml (parsed) does not give as the record has them:
    they were set at push time (``--label``, ``--description``, ...) and a push of the pulled files
    would lose them."""
    recorded = _record_fields(revision)
    try:
        from_file = _record_fields(
            revision.model_validate(
                {
                    **revision.model_dump(exclude=set(RECORD_FIELDS) | {"documents", "extra_files"}),
                    **{k: v for k, v in document.items() if k in RECORD_FIELDS},
                }
            )
        )
    except InvalidRevision:
        return sorted(recorded)
    return [key for key in RECORD_FIELDS if recorded.get(key) != from_file.get(key)]
