"""Commands that retire revisions: archive, unarchive, delete, and ``list --archived``.

What would go is worked out first (``removal_plan``) and, where aliases or whole revisions would
go, shown and asked about; without a terminal, ``--yes`` is the answer (exit 2 otherwise).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from msr_oci.cli import inputs, output, views
from msr_oci.cli.context import Settings, run, run_with_registry, settings_of
from msr_oci.cli.options import Output, RefArg
from msr_oci.cli.output import OutputFormat
from msr_oci.errors import InputError
from msr_oci.registry.refs import digest_of

if TYPE_CHECKING:
    from msr_oci.registry import ArchivedRevision, AsyncRemoteRegistry, RemovalPlan

Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", "--force", help="Do not ask for confirmation (needed without a terminal)."),
]
_NO_ALIAS_RESTORE = "'msr unarchive' does not restore aliases: set them again with 'msr promote'"


def _confirm(question: str, refusal: str, yes: bool) -> None:
    """Go on when ``yes`` or the user says so at a terminal; exit 2 without a terminal, 1 on "no"."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(refusal, hint="pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        typer.echo("nothing changed", err=True)
        raise typer.Exit(1)


def _plan_lines(plan: RemovalPlan) -> list[str]:
    lines = []
    for revision in plan.revisions:
        kind = "archived revision" if revision.archived is not None and not revision.tags else "version"
        line = f"  {kind} {revision.version} ({output.short_digest(revision.digest)})"
        if revision.aliases:
            line += f", aliases {', '.join(revision.aliases)}"
        lines.append(line)
    if plan.other_aliases:
        lines.append(f"  aliases on earlier revisions: {', '.join(plan.other_aliases)}")
    return lines


def _plan_record(plan: RemovalPlan) -> list[dict[str, Any]]:
    return [
        {
            "version": r.version,
            "digest": r.digest,
            "tags": r.tags,
            "aliases": r.aliases,
            "archived": r.archived is not None,
        }
        for r in plan.revisions
    ]


def archive(ctx: typer.Context, ref: RefArg, yes: Yes = False, fmt: Output = OutputFormat.text) -> None:
    """Take a revision out of circulation: untag its version and remove the aliases pointing at it
    (each removal recorded in the alias log), keeping it, fetchable by digest, under an archive
    record ('msr list --archived', 'msr unarchive'). Asks first when aliases would go."""
    settings = settings_of(ctx)

    async def work(reg: AsyncRemoteRegistry) -> tuple[RemovalPlan, list[str]]:
        plan = await reg.removal_plan(ref)
        revision = plan.revisions[0]
        if revision.aliases:
            aliases = ", ".join(revision.aliases)
            _confirm(
                f"Archiving {plan.name} {revision.version} removes the aliases {aliases} (recorded in "
                f"their logs; {_NO_ALIAS_RESTORE}). Archive it?",
                f"archiving {ref} would remove the aliases {aliases}",
                yes,
            )
        return plan, await reg.archive(ref)

    plan, removed = run_with_registry(settings, None, work)
    revision = plan.revisions[0]
    aliases = [tag for tag in removed if tag not in revision.tags]
    output.emit(
        fmt,
        {
            "reference": ref,
            "digest": revision.digest,
            "version": revision.version,
            "removed_tags": removed,
            "removed_aliases": aliases,
        },
        lambda: typer.echo(
            f"archived {plan.name} {revision.version} ({revision.digest}); removed tags: "
            f"{', '.join(removed) or '-'}"
        ),
    )
    if aliases:
        output.note(f"removed aliases {', '.join(aliases)}; {_NO_ALIAS_RESTORE}", quiet=settings.quiet)


def unarchive(ctx: typer.Context, ref: RefArg, fmt: Output = OutputFormat.text) -> None:
    """Restore an archived revision (NAME:VERSION or NAME@DIGEST): its version is tagged again
    (exit 5 if the version holds other content now). Aliases are not restored."""
    settings = settings_of(ctx)
    revision_id = run_with_registry(settings, None, lambda reg: reg.unarchive(ref))
    digest = digest_of(revision_id)
    output.emit(
        fmt,
        {"reference": ref, "id": revision_id, "digest": digest},
        lambda: typer.echo(f"unarchived {ref} ({digest})"),
    )
    output.note("aliases are not restored: set them again with 'msr promote'", quiet=settings.quiet)


def delete(
    ctx: typer.Context,
    ref: RefArg,
    all_versions: Annotated[
        bool,
        typer.Option(
            "--all-versions",
            help="Delete every revision of NAME: each version, each archived revision, every alias.",
        ),
    ] = False,
    yes: Yes = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Delete a revision (NAME:VERSION, NAME:ALIAS or NAME@DIGEST): its manifest, every tag on it,
    the aliases pointing at it (each removal recorded in the alias log) and its archive record.
    A bare NAME needs --all-versions. Says what goes and asks first (without a terminal: --yes)."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(ref)) if all_versions else None

    async def work(reg: AsyncRemoteRegistry) -> RemovalPlan:
        target = located.name if located is not None else ref
        plan = await reg.removal_plan(target, all_versions=all_versions)
        what = f"every revision of {plan.name}" if all_versions else ref
        _confirm(
            "\n".join([f"Deleting {what} removes:", *_plan_lines(plan), "Delete?"]),
            f"refusing to delete {what} without confirmation "
            f"({len(plan.revisions)} revisions, aliases: {', '.join(plan.aliases) or 'none'})",
            yes,
        )
        if located is not None:
            return await reg.delete_all_versions(located.name)
        await reg.delete_revision(ref)
        return plan

    plan = run_with_registry(settings, located.namespace if located else None, work)
    output.emit(
        fmt,
        {
            "reference": ref,
            "deleted": True,
            "revisions": _plan_record(plan),
            "removed_tags": plan.tags,
            "removed_aliases": plan.aliases,
        },
        lambda: typer.echo("\n".join([f"deleted from {plan.name}:", *_plan_lines(plan)])),
    )


ARCHIVED_COLUMNS = ("NAME", "VERSION", "DIGEST", "ARCHIVED", "BY", "ALIASES REMOVED")


def _archived_record(item: ArchivedRevision) -> dict[str, Any]:
    record = views.revision_record(item.revision)
    record.update(
        archived_at=item.record.at, archived_by=item.record.by, archived_aliases=item.record.aliases
    )
    return record


def list_archived(
    settings: Settings, namespace: str | None, filters: dict[str, Any], fmt: OutputFormat
) -> None:
    """``msr list --archived``: archived revisions, with when, by whom and which aliases went."""
    items = run_with_registry(settings, namespace, lambda reg: reg.list_archived(filters))
    rows = [
        (
            i.revision.name,
            i.revision.version,
            output.short_digest(i.revision.digest),
            i.record.at,
            i.record.by,
            i.record.aliases,
        )
        for i in items
    ]
    output.emit(fmt, [_archived_record(i) for i in items], lambda: output.table(ARCHIVED_COLUMNS, rows))
