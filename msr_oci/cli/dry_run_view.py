"""``msr push --dry-run``: what would be published, with sizes, and what is left out and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from msr_oci.cli import output

if TYPE_CHECKING:
    from msr_oci.cli.output import OutputFormat
    from msr_oci.revision import ModelServingRevision
    from msr_oci.revision.errors import Problem
    from msr_oci.revision.ignore import Exclusion


def _mode(mode: int | None) -> str | None:
    return None if mode is None else f"{mode:04o}"


def file_records(revision: ModelServingRevision) -> list[dict[str, Any]]:
    """Every file the revision carries: its documents first, then the extra files, by path."""
    documents = [
        {"path": d.path, "size": d.size, "mode": _mode(d.mode), "role": d.role} for d in revision.documents
    ]
    extras = [
        {"path": f.path, "size": f.size, "mode": _mode(f.mode), "role": "file"} for f in revision.extra_files
    ]
    return documents + extras


def show(
    fmt: OutputFormat,
    revision: ModelServingRevision,
    excluded: list[Exclusion],
    warnings: list[Problem],
    upload_size: int,
) -> None:
    """Print the plan; ``upload_size`` counts every blob (files and the revision record)."""
    files = file_records(revision)
    record = {
        "name": revision.name,
        "version": revision.version,
        "dry_run": True,
        "files": files,
        "excluded": [{"path": e.path, "reason": e.reason} for e in excluded],
        "warnings": [str(w) for w in warnings],
        "size": upload_size,
    }

    def human() -> None:
        output.table(("PATH", "SIZE", "MODE", "ROLE"), [tuple(f.values()) for f in files])
        if excluded:
            typer.echo("\nleft out:")
            for exclusion in excluded:
                typer.echo(f"  {exclusion}")
        typer.echo(
            f"\n{len(files)} files, {upload_size} bytes with the revision record: "
            f"{revision.name}:{revision.version} was not published (--dry-run)"
        )

    output.emit(fmt, record, human)
