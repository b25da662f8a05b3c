"""How revisions, aliases and diffs look on a terminal and in JSON/YAML."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from msr_oci.cli import output
from msr_oci.errors import InputError

if TYPE_CHECKING:
    from msr_oci.registry import AliasEntry, DiffEntry
    from msr_oci.revision import ModelServingRevision

#: the columns ``msr list --columns`` can show, by name; ``label.KEY`` and ``metric.KEY`` too
LIST_COLUMNS: dict[str, Callable[[ModelServingRevision], Any]] = {
    "name": lambda r: r.name,
    "version": lambda r: r.version,
    "digest": lambda r: output.short_digest(r.digest),
    "aliases": lambda r: r.aliases,
    "labels": lambda r: r.labels,
    "variant": lambda r: runtime_variant(r),
    "created": lambda r: r.created_at,
    "by": lambda r: r.created_by,
    "description": lambda r: r.description,
}
DEFAULT_LIST_COLUMNS = ("name", "version", "digest", "aliases", "labels", "variant", "created", "by")


def list_column(spec: str) -> tuple[str, Callable[[ModelServingRevision], Any]]:
    """A column of ``msr list`` by name (``labels``, ``metric.accuracy``, ...): header and getter.
    Raises ``InputError`` naming the known columns."""
    key = spec.strip()
    section, dot, field = key.partition(".")
    if dot and field and section in ("metric", "metrics"):
        return field.upper(), lambda r: r.metrics.get(field)
    if dot and field and section in ("label", "labels"):
        return field.upper(), lambda r: r.labels.get(field)
    if key.lower() in LIST_COLUMNS:
        return key.upper(), LIST_COLUMNS[key.lower()]
    known = ", ".join([*LIST_COLUMNS, "label.KEY", "metric.KEY"])
    raise InputError(f"unknown column {spec!r}", hint=f"choose from {known}")


def revision_record(revision: ModelServingRevision) -> dict[str, Any]:
    """The full record; ``id``, ``digest`` and ``aliases`` are always present."""
    record: dict[str, Any] = output.jsonable(revision)
    for key in ("id", "digest"):
        record.setdefault(key, getattr(revision, key, None))
    record.setdefault("aliases", list(getattr(revision, "aliases", [])))
    return record


def runtime_variant(revision: ModelServingRevision) -> str | None:
    variant = revision.service_configuration.runtime_variant
    return str(getattr(variant, "value", variant)) if variant is not None else None


def show_revision(revision: ModelServingRevision) -> None:
    service = revision.service_configuration
    models = revision.model_definition.models
    lineage = revision.lineage
    output.fields(
        [
            ("id", revision.id),
            ("name", revision.name),
            ("version", revision.version),
            ("digest", revision.digest),
            ("aliases", revision.aliases),
            ("description", revision.description),
            ("created", revision.created_at),
            ("updated", revision.updated_at),
            ("created by", revision.created_by),
            ("runtime variant", runtime_variant(revision)),
            ("image", service.image),
            ("replica count", getattr(service, "replica_count", None)),
            ("resource slots", service.resource_slots),
            ("models", [f"{m.name} ({m.model_path})" for m in models]),
            ("labels", revision.labels),
            ("metrics", revision.metrics),
            ("parent", lineage.parent if lineage else None),
            ("supersedes", revision.supersedes),
            ("files", [f"{f.path} ({f.size} B)" for f in revision.extra_files]),
        ]
    )


def alias_record(entry: AliasEntry) -> dict[str, Any]:
    """``alias``, ``version``, ``digest``, ``action``, ``at``, ``by``, ``entry_digest``, ``previous``."""
    record: dict[str, Any] = output.jsonable(entry)
    return record


ALIAS_COLUMNS = ("ALIAS", "VERSION", "DIGEST", "ACTION", "AT", "BY")


def alias_row(entry: AliasEntry) -> tuple[Any, ...]:
    return (entry.alias, entry.version, output.short_digest(entry.digest), entry.action, entry.at, entry.by)


def diff_record(entry: DiffEntry) -> dict[str, Any]:
    return {"path": entry.path, "change": entry.change, "old": entry.old, "new": entry.new}


def show_diff(entries: list[DiffEntry]) -> None:
    if not entries:
        output.console().print("no differences", markup=False)
        return
    marks = {"added": "+", "removed": "-", "changed": "~"}
    rows = [(marks[e.change], e.path, output.jsonable(e.old), output.jsonable(e.new)) for e in entries]
    output.table(("", "FIELD", "OLD", "NEW"), rows)
