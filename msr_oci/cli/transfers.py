"""Commands that move content: push, pull, fetch, copy, export, import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from msr_oci.cli import dry_run_view, inputs, output, progress
from msr_oci.cli.completion import complete_ref
from msr_oci.cli.context import Settings, run, run_with_registry, settings_of
from msr_oci.cli.governance import note_pins
from msr_oci.cli.interrupted import EXIT_INTERRUPTED, interrupted_push
from msr_oci.cli.options import Output, PolicyOpt, RefArg, StageOpt, Strict, Target, TargetRelease
from msr_oci.cli.output import OutputFormat
from msr_oci.registry.refs import RevisionRef
from msr_oci.revision.errors import Problem

if TYPE_CHECKING:
    from msr_oci.registry import AsyncRemoteRegistry, FetchedRevision
    from msr_oci.revision import ModelServingRevision
    from msr_oci.revision.errors import Problem
    from msr_oci.revision.ignore import Exclusion


def _id_record(revision_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": revision_id, "digest": RevisionRef.parse(revision_id).digest, **extra}


def _load(
    directory: Path,
    name: str,
    version: str,
    *,
    runtime_variant: str | None,
    labels: list[str],
    metrics: list[str],
    params: list[str],
    lineage: dict[str, str | None],
    description: str | None,
    created_by: str | None,
    target: str = "head",
    strict: bool = False,
    settings: Settings,
    warnings: list[Problem],
    excluded: list[Exclusion],
) -> ModelServingRevision:
    from msr_oci.registry.cache import ContentCache
    from msr_oci.revision.loader import load_revision_dir

    with progress.hashing_status(settings, str(directory)) as hashing:
        revision = load_revision_dir(
            directory,
            name=name,
            version=version,
            runtime_variant=runtime_variant,
            target=target,
            strict=strict,
            warnings=warnings,
            excluded=excluded,
            file_digests=ContentCache().file_digests,  # unchanged weights are not hashed again
            hashing=hashing,
        )
    for warning in warnings:  # the same warnings `msr validate` prints (skipped files, unknown keys)
        output.note(f"warning: {warning}", quiet=settings.quiet)
    update: dict[str, Any] = {
        "labels": {**revision.labels, **inputs.pairs(labels, "--label")},
        "metrics": {**revision.metrics, **inputs.number_pairs(metrics, "--metric")},
        "parameters": {
            **revision.parameters,
            **{k: inputs.scalar(v) for k, v in inputs.pairs(params, "--param").items()},
        },
    }
    given_lineage = {k: v for k, v in lineage.items() if v is not None}
    if given_lineage:
        update["lineage"] = revision.lineage.model_copy(update=given_lineage)
    if description is not None:
        update["description"] = description
    if created_by is not None:
        update["created_by"] = created_by
    return revision.model_copy(update=update)


def _upload_size(revision: ModelServingRevision) -> int:
    from msr_oci.revision import encode_revision

    return sum(descriptor.size for descriptor, _ in encode_revision(revision).blobs)


def push(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Directory with model-definition.yaml and a service config.")
    ],
    ref: Annotated[str, typer.Argument(help="[HOST/NAMESPACE/]NAME:VERSION to publish.")],
    label: Annotated[
        list[str] | None, typer.Option("--label", metavar="KEY=VALUE", help="KEY=VALUE label (repeatable).")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", metavar="KEY=NUMBER", help="KEY=NUMBER metric (repeatable)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="KEY=VALUE", help="KEY=VALUE parameter (repeatable)."),
    ] = None,
    parent: Annotated[
        str | None, typer.Option(metavar="REF", help="Revision this one derives from (lineage).")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Training run id (lineage).")] = None,
    dataset_version: Annotated[str | None, typer.Option(help="Dataset version (lineage).")] = None,
    code_commit: Annotated[str | None, typer.Option(help="Code commit (lineage).")] = None,
    description: Annotated[str | None, typer.Option(help="Free-text description.")] = None,
    created_by: Annotated[
        str | None, typer.Option(metavar="USER", help="Author; default: the local user.")
    ] = None,
    runtime_variant: Annotated[
        str | None,
        typer.Option(help="Runtime variant (picks the table of a legacy service-definition.toml)."),
    ] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Publish new content for an existing version (keeps history).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a version that holds other content.")
    ] = False,
    target: Target = TargetRelease.head,
    strict: Strict = False,
    any_version: Annotated[
        bool,
        typer.Option("--any-version", help="Allow a version that is not SemVer 2.0 (e.g. a date or 'v2')."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List what would be published (with sizes) and what is left out, then stop: "
            "no registry or store is touched.",
        ),
    ] = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Publish a revision directory as NAME:VERSION (SemVer 2.0): every file as written, with its
    mode, except what the default excludes and .msrignore leave out."""
    from msr_oci.revision import check_publishable_version

    settings = settings_of(ctx)
    located, version = run(settings, lambda: inputs.split_version(ref))
    if dry_run and not update:  # a real push is checked by the registry API
        run(settings, lambda: check_publishable_version(version, any_scheme=any_version))
    warnings: list[Problem] = []
    excluded: list[Exclusion] = []
    revision = run(
        settings,
        lambda: _load(
            directory,
            located.name,
            version,
            runtime_variant=runtime_variant,
            labels=label or [],
            metrics=metric or [],
            params=param or [],
            lineage={
                "parent": parent,
                "run_id": run_id,
                "dataset_version": dataset_version,
                "code_commit": code_commit,
            },
            description=description,
            created_by=created_by,
            target=target.value,
            strict=strict,
            settings=settings,
            warnings=warnings,
            excluded=excluded,
        ),
    )
    if dry_run:
        dry_run_view.show(fmt, revision, excluded, warnings, _upload_size(revision))
        return
    shown = f"{located.name}:{version}"
    with progress.transfer(settings, f"push {shown}") as tally:

        async def publish(reg: AsyncRemoteRegistry) -> str:
            if update:  # the registry maps a semver "+" in the reference onto its tag
                return await reg.update_revision(f"{located.name}:{version}", revision, progress=tally)
            return await reg.create_revision(
                revision, overwrite=force, progress=tally, any_version=any_version
            )

        try:
            revision_id = run_with_registry(settings, located.namespace, publish)
        except KeyboardInterrupt:
            revision_id = None
    if revision_id is None:  # Ctrl-C: say what is and is not published, after the bar is gone
        typer.echo(f"interrupted: {interrupted_push(ref, revision, tally)}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    record = _id_record(revision_id, name=revision.name, version=revision.version)
    output.emit(fmt, record, lambda: typer.echo(revision_id))


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def pull(
    ctx: typer.Context,
    ref: RefArg,
    directory: Annotated[
        Path, typer.Option("--dir", "-o", metavar="DIR", help="Directory to write the files into.")
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Pull into a directory that is not empty: afterwards it holds exactly the revision "
            "(everything else in it is removed).",
        ),
    ] = False,
    policy: PolicyOpt = None,
    stage: StageOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Write a revision's files into a new or empty directory (or any, with --force), each verified
    against its digest, plus its description, labels and metrics in revision.yaml when it has none
    of its own; with --policy: only a revision signed and approved as the policy requires."""
    settings = settings_of(ctx)
    choice = inputs.policy_choice(policy)

    async def pull_files(reg: AsyncRemoteRegistry) -> ModelServingRevision:
        with progress.transfer(settings, f"pull {ref}") as advance:
            pulled = await reg.pull(ref, directory, progress=advance, policy=choice, stage=stage, force=force)
        note_pins(settings, reg)
        return pulled

    revision = run_with_registry(settings, None, pull_files)
    _note_fields_outside(settings, revision, directory)
    written = _files_under(directory)
    record = _id_record(revision.id or "", name=revision.name, version=revision.version)
    record.update(digest=revision.digest, path=str(directory), files=written)

    def human() -> None:
        for name in written:
            typer.echo(str(directory / name))

    output.emit(fmt, record, human)


def _note_fields_outside(settings: Settings, revision: ModelServingRevision, directory: Path) -> None:
    """Say that revision.yaml was written from the record (not a file of the revision), or that the
    revision's own revision.yaml lacks what was set at push time (--label, ...)."""
    from msr_oci.revision import REVISION_FILE
    from msr_oci.revision.pulled_record import fields_missing_from, is_generated_revision_file
    from msr_oci.revision.yaml_reader import YamlProblem, parse_yaml

    try:
        content = (directory / REVISION_FILE).read_bytes()
        data = parse_yaml(content.decode("utf-8")).data
    except (OSError, UnicodeDecodeError, YamlProblem):
        return
    if revision.document("revision") is None:
        if is_generated_revision_file(content):
            output.note(
                f"note: {REVISION_FILE} holds the record's {', '.join(sorted(data or {}))}: msr push reads "
                "it, but it is not a file of the revision (model_signing verify: --ignore-paths "
                f"{directory / REVISION_FILE})",
                quiet=settings.quiet,
            )
        return
    missing = fields_missing_from(revision, data if isinstance(data, dict) else {})
    if missing:
        output.note(
            f"warning: {', '.join(missing)} of {revision.name}:{revision.version} were set when it was "
            f"pushed, not in {REVISION_FILE}; a push of these files would drop them (add them to "
            f"{REVISION_FILE}, or pass them again)",
            quiet=settings.quiet,
        )


def fetch(
    ctx: typer.Context,
    ref: RefArg,
    policy: PolicyOpt = None,
    stage: StageOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Fetch a revision into the local cache (Backend.AI's path) and print its directory.

    With --policy, the deploy gate: refused (exit 9) unless the revision is signed and approved as the
    policy requires for the stage, checked again on every fetch, also from the cache."""
    settings = settings_of(ctx)
    choice = inputs.policy_choice(policy)

    async def fetch_files(reg: AsyncRemoteRegistry) -> FetchedRevision:
        with progress.transfer(settings, f"fetch {ref}", skipped_note="already in the cache") as advance:
            fetched = await reg.fetch(ref, progress=advance, policy=choice, stage=stage)
        note_pins(settings, reg)
        return fetched

    fetched = run_with_registry(settings, None, fetch_files)
    revision = fetched.revision
    record = {
        "id": revision.id,
        "digest": revision.digest,
        "path": str(fetched.path),
        "files": _files_under(fetched.path),
    }
    output.emit(fmt, record, lambda: typer.echo(str(fetched.path)))


def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Revision to copy.", autocompletion=complete_ref)],
    destination: Annotated[
        str,
        typer.Argument(
            help="[HOST/NS/]NAME[:VERSION]: another registry, namespace or the local store, with the "
            "revision's own name and version."
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the version there when it holds other content.")
    ] = False,
    referrers: Annotated[
        bool,
        typer.Option("--referrers/--no-referrers", help="Copy the revision's signatures and approvals too."),
    ] = True,
    fmt: Output = OutputFormat.text,
) -> None:
    """Copy a revision to another registry, namespace or the local store, digest and signatures kept,
    under the rules of push (exit 5 when the version there holds other content, unless --force)."""
    settings = settings_of(ctx)

    async def copy_revision(reg: AsyncRemoteRegistry) -> str:
        with progress.transfer(settings, f"copy {source}") as advance:
            return await reg.copy(source, destination, force=force, referrers=referrers, progress=advance)

    new_id = run_with_registry(settings, None, copy_revision)
    output.emit(fmt, _id_record(new_id, source=source), lambda: typer.echo(new_id))


def export(
    ctx: typer.Context,
    ref: RefArg,
    file: Annotated[Path, typer.Argument(help="Tarball to write (OCI image layout, skopeo oci-archive:).")],
    fmt: Output = OutputFormat.text,
) -> None:
    """Write a revision as an OCI-layout tarball."""
    settings = settings_of(ctx)
    digest = run_with_registry(settings, None, lambda reg: reg.export(ref, file))
    record = {"digest": digest, "path": str(file), "reference": ref}
    output.emit(fmt, record, lambda: typer.echo(f"{file}  {digest}"))


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Tarball written by msr export or skopeo (oci-archive:).")],
    namespace: Annotated[
        str | None, typer.Argument(help="Namespace to publish into; default $MSR_REGISTRY.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a version that holds other content, and move aliases the archive sets."
        ),
    ] = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Publish every revision tagged in an OCI-layout tarball, under the rules of push: a version
    holding other content or an alias pointing elsewhere is a conflict (exit 5) unless --force;
    aliases are recorded in their history; '_' tags and other foreign tags are refused (exit 2)."""
    settings = settings_of(ctx)
    ids = run_with_registry(settings, namespace, lambda reg: reg.import_archive(file, force=force))
    output.emit(fmt, [_id_record(i) for i in ids], lambda: typer.echo("\n".join(ids)))
