"""Commands that edit a version's metadata without its files: label, metric, describe.

Each makes an update of the version (new digest, ``supersedes`` the old one, the same files, only
the config and manifest uploaded), like MLflow's ``set_model_version_tag``. Aliases keep pointing
at the revision they pinned; the command says which ones stay behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from msr_oci.cli import inputs, output, views
from msr_oci.cli.context import run, run_with_registry, settings_of
from msr_oci.cli.options import Output
from msr_oci.cli.output import OutputFormat
from msr_oci.errors import InputError

if TYPE_CHECKING:
    from msr_oci.registry import AsyncRemoteRegistry
    from msr_oci.revision import ModelServingRevision

VersionRef = Annotated[
    str, typer.Argument(help="NAME:VERSION (or NAME:ALIAS, NAME@DIGEST of a version's current revision).")
]
RemoveOpt = Annotated[
    list[str] | None, typer.Option("--remove", metavar="KEY", help="Remove KEY (repeatable).")
]


def _edit(ctx: typer.Context, ref: str, fmt: OutputFormat, changes: dict[str, Any]) -> None:
    """Apply ``changes`` (``update_metadata``'s keywords), then show the new revision."""
    settings = settings_of(ctx)

    async def work(reg: AsyncRemoteRegistry) -> tuple[ModelServingRevision, ModelServingRevision]:
        before = await reg.get_revision(ref)
        revision_id = await reg.update_metadata(ref, **changes)
        return before, await reg.get_revision(revision_id)

    before, after = run_with_registry(settings, None, work)
    changed = after.digest != before.digest
    record = {**views.revision_record(after), "changed": changed}
    output.emit(
        fmt,
        record,
        lambda: typer.echo(
            f"{after.name} {after.version}: {after.digest} (supersedes {after.supersedes})"
            if changed
            else f"{after.name} {after.version}: nothing changed ({after.digest})"
        ),
    )
    if changed and before.aliases:
        aliases = ", ".join(before.aliases)
        output.note(
            f"aliases {aliases} still point at the previous revision {before.digest}; move one with "
            f"`msr promote {after.name} {after.version} --to ALIAS`",
            quiet=settings.quiet,
        )


def _edit_pairs(
    ctx: typer.Context,
    ref: str,
    pairs: list[str] | None,
    remove: list[str] | None,
    fmt: OutputFormat,
    kind: str,
) -> None:
    """``label`` and ``metric``: KEY=VALUE pairs to set, ``--remove KEY`` to drop (at least one)."""
    example = "team=risk" if kind == "label" else "accuracy=0.95"
    parse = inputs.pairs if kind == "label" else inputs.number_pairs

    def values() -> dict[str, Any]:
        if not pairs and not remove:
            raise InputError("nothing to change", hint=f"give KEY=VALUE pairs or --remove KEY: {example}")
        return dict(parse(pairs or [], kind))

    _edit(ctx, ref, fmt, {f"{kind}s": run(settings_of(ctx), values), f"remove_{kind}s": remove or []})


def label(
    ctx: typer.Context,
    ref: VersionRef,
    pairs: Annotated[list[str] | None, typer.Argument(metavar="KEY=VALUE...", help="Labels to set.")] = None,
    remove: RemoveOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Set or remove labels of a version (a new revision of it, same files, history kept)."""
    _edit_pairs(ctx, ref, pairs, remove, fmt, "label")


def metric(
    ctx: typer.Context,
    ref: VersionRef,
    pairs: Annotated[
        list[str] | None, typer.Argument(metavar="KEY=NUMBER...", help="Metrics to set.")
    ] = None,
    remove: RemoveOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Set or remove metrics of a version (a new revision of it, same files, history kept)."""
    _edit_pairs(ctx, ref, pairs, remove, fmt, "metric")


def describe(
    ctx: typer.Context,
    ref: VersionRef,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The new description ('' clears it).")],
    fmt: Output = OutputFormat.text,
) -> None:
    """Set the description of a version (a new revision of it, same files, history kept)."""
    _edit(ctx, ref, fmt, {"description": text})
