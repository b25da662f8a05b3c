"""Commands that read: get, list, versions, history, diff, render; and index (builds what list reads)."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from msr_oci.cli import inputs, output, views
from msr_oci.cli.completion import complete_ref
from msr_oci.cli.context import run, run_with_registry, settings_of
from msr_oci.cli.options import NameArg, Output, PolicyOpt, RefArg, SortChoice, StageOpt
from msr_oci.cli.output import OutputFormat

if TYPE_CHECKING:
    from msr_oci.revision import ModelServingRevision
    from msr_oci.revision.summary import RevisionSummary


def get(
    ctx: typer.Context,
    ref: RefArg,
    devel: Annotated[
        bool, typer.Option("--devel", help="A bare NAME may pick a prerelease (e.g. 2.0.0-rc.1).")
    ] = False,
    policy: PolicyOpt = None,
    stage: StageOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Show a revision (a bare NAME means its latest stable version; with --policy, only if it passes)."""
    settings = settings_of(ctx)
    choice = inputs.policy_choice(policy)
    revision = run_with_registry(
        settings, None, lambda reg: reg.get_revision(ref, devel=devel, policy=choice, stage=stage)
    )
    output.emit(fmt, views.revision_record(revision), lambda: views.show_revision(revision))


def list_revisions(
    ctx: typer.Context,
    namespace: Annotated[
        str | None,
        typer.Argument(help="Registry namespace (host[:port]/path) or store path; default $MSR_REGISTRY."),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="FILTER",
            help="KEY=VALUE (repeatable, AND): name, version, label.K, metric.K, alias, created_by, "
            "created_after, created_before, runtime_variant, digest; or a {...} filter dict ('any' for OR).",
        ),
    ] = None,
    sort: Annotated[
        SortChoice, typer.Option(help="Order: semver (name, then version) or time.")
    ] = SortChoice.semver,
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.")] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Re-resolve every version tag instead of trusting a repository index."),
    ] = False,
    archived: Annotated[
        bool,
        typer.Option(
            "--archived", help="List archived revisions instead ('msr archive'; by name and version)."
        ),
    ] = False,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="COLUMN,...",
            help="Table columns, comma-separated: name, version, digest, aliases, labels, variant, "
            "created, by, description, label.KEY, metric.KEY. Default: "
            + ",".join(views.DEFAULT_LIST_COLUMNS)
            + ".",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", metavar="KEY", help="Add a column with this metric (repeatable)."),
    ] = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """List revisions in a namespace, filtered: one row per name and version tag (a copy another tool
    made under another name or version is a row of its own)."""
    settings = settings_of(ctx)
    chosen = columns.split(",") if columns else list(views.DEFAULT_LIST_COLUMNS)
    table = run(
        settings, lambda: [views.list_column(c) for c in [*chosen, *(f"metric.{m}" for m in metric or [])]]
    )
    filters = run(settings, lambda: _parse_filters(filter_ or []))
    if archived:
        from msr_oci.cli.retire import list_archived

        list_archived(settings, namespace, filters, fmt)
        return
    order: Literal["semver", "time"] = "time" if sort is SortChoice.time else "semver"
    # a table of summary fields needs no revision configs (index or manifests only); records do
    summaries = fmt is OutputFormat.text and views.summary_columns_only(
        [*chosen, *(f"metric.{m}" for m in metric or [])]
    )

    def show(rows: Sequence[ModelServingRevision | RevisionSummary]) -> None:
        output.table([header for header, _ in table], [[cell(r) for _, cell in table] for r in rows])

    if summaries:
        show(
            run_with_registry(
                settings,
                namespace,
                lambda reg: reg.list_summaries(filters, sort=order, reverse=reverse, verify=verify),
            )
        )
        return
    revisions = run_with_registry(
        settings,
        namespace,
        lambda reg: reg.list_revisions(filters, sort=order, reverse=reverse, verify=verify),
    )
    output.emit(fmt, [views.revision_record(r) for r in revisions], lambda: show(revisions))


def _parse_filters(values: list[str]) -> dict[str, Any]:
    from msr_oci.registry.filters import compile_filter

    filters = inputs.filters(values)
    compile_filter(filters)  # an unknown key or a bad comparison fails before any request
    return filters


def versions(
    ctx: typer.Context,
    name: NameArg,
    fmt: Output = OutputFormat.text,
) -> None:
    """List the versions of a revision, in semver order (exit 3 for an unknown name)."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    found = run_with_registry(
        settings, located.namespace, lambda reg: reg.versions(located.name, missing_ok=False)
    )
    output.emit(
        fmt,
        {"name": located.name, "versions": found},
        lambda: output.table(("VERSION",), [(v,) for v in found]),
    )


def index(
    ctx: typer.Context,
    name: NameArg,
    fmt: Output = OutputFormat.text,
) -> None:
    """Build (or rebuild) the repository index of NAME: listings read it in one round trip, and
    publishes keep it up to date (docs/repository-index.md)."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    count = run_with_registry(settings, located.namespace, lambda reg: reg.build_index(located.name))
    output.emit(
        fmt,
        {"name": located.name, "indexed": count},
        lambda: typer.echo(f"indexed {count} versions of {located.name}"),
    )


def history(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="NAME:VERSION (or any revision reference).", autocompletion=complete_ref)
    ],
    fmt: Output = OutputFormat.text,
) -> None:
    """Show a revision and every revision it superseded (msr push --update), newest first."""
    settings = settings_of(ctx)
    chain = run_with_registry(settings, None, lambda reg: reg.history(ref))
    rows = [
        (
            r.version,
            output.short_digest(r.digest),
            r.updated_at,
            r.created_by,
            output.short_digest(r.supersedes),
        )
        for r in chain
    ]
    output.emit(
        fmt,
        [views.revision_record(r) for r in chain],
        lambda: output.table(("VERSION", "DIGEST", "UPDATED", "BY", "SUPERSEDES"), rows),
    )


def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="The old revision reference.", autocompletion=complete_ref)],
    b: Annotated[str, typer.Argument(help="The new revision reference.", autocompletion=complete_ref)],
    fmt: Output = OutputFormat.text,
) -> None:
    """Show what changed from revision A to revision B."""
    settings = settings_of(ctx)
    entries = run_with_registry(settings, None, lambda reg: reg.diff(a, b))
    output.emit(fmt, [views.diff_record(e) for e in entries], lambda: views.show_diff(entries))


class RenderChoice(enum.StrEnum):
    v1 = "backendai-v1"
    v2 = "backendai-v2"
    legacy = "backendai-legacy"


def _id_option(help_text: str) -> Any:
    return typer.Option(metavar="ID", help=help_text)


def render(
    ctx: typer.Context,
    ref: RefArg,
    to: Annotated[
        RenderChoice,
        typer.Option(
            "--to",
            metavar="API",
            help="backendai-v1 (POST /deployments, or /deployments/ID/revisions with --deployment-id), "
            "backendai-v2 (CreateDeploymentInput / AddRevisionInput), backendai-legacy (POST /services).",
        ),
    ] = RenderChoice.v1,
    project_id: Annotated[str | None, _id_option("Backend.AI project (group) UUID.")] = None,
    domain: Annotated[str | None, typer.Option(metavar="NAME", help="Backend.AI domain name.")] = None,
    resource_group: Annotated[
        str | None, typer.Option(metavar="NAME", help="Resource group (scaling group) name.")
    ] = None,
    image_id: Annotated[str | None, _id_option("UUID of the revision's image in Backend.AI.")] = None,
    vfolder_id: Annotated[str | None, _id_option("UUID of the model vfolder holding the files.")] = None,
    runtime_variant_id: Annotated[str | None, _id_option("v2: UUID of the runtime variant row.")] = None,
    deployment_id: Annotated[
        str | None, _id_option("Add the revision to this deployment instead of creating one.")
    ] = None,
    project: Annotated[str | None, typer.Option(metavar="NAME", help="legacy: the project by name.")] = None,
    vfolder: Annotated[
        str | None, typer.Option(metavar="NAME", help="legacy: the model vfolder by name or id.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Deployment name (default: the revision name).")
    ] = None,
    open_to_public: Annotated[bool, typer.Option(help="Make the endpoint public.")] = False,
    auto_activate: Annotated[bool, typer.Option(help="Activate the added revision at once.")] = False,
) -> None:
    """Print the JSON request Backend.AI takes to deploy a revision (ids only Backend.AI knows: options)."""
    from msr_oci.registry.render import DeploymentIds

    settings = settings_of(ctx)
    ids = DeploymentIds(
        project_id=project_id,
        domain=domain,
        resource_group=resource_group,
        image_id=image_id,
        vfolder_id=vfolder_id,
        runtime_variant_id=runtime_variant_id,
        deployment_id=deployment_id,
        project=project,
        vfolder=vfolder,
        deployment_name=name,
        open_to_public=open_to_public,
        auto_activate=auto_activate,
    )
    body = run_with_registry(settings, None, lambda reg: reg.render(ref, to.value, ids))
    typer.echo(json.dumps(body, indent=2, sort_keys=False))
