"""Commands that move content: push, pull, fetch, copy, export, import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from msr_oci.cli import inputs, output, progress
from msr_oci.cli.context import run, run_with_registry, settings_of
from msr_oci.cli.governance import note_pins
from msr_oci.cli.options import Output, PolicyOpt, RefArg, StageOpt, Strict, Target, TargetRelease
from msr_oci.cli.output import OutputFormat

if TYPE_CHECKING:
    from msr_oci.registry import AsyncRemoteRegistry, FetchedRevision
    from msr_oci.revision import ModelServingRevision


def _id_record(revision_id: str, **extra: Any) -> dict[str, Any]:
    digest = revision_id.rpartition("@")[2] if "@" in revision_id else None
    return {"id": revision_id, "digest": digest, **extra}


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
    quiet: bool = False,
) -> ModelServingRevision:
    from msr_oci.registry.cache import ContentCache
    from msr_oci.revision.errors import Problem
    from msr_oci.revision.loader import load_revision_dir

    warnings: list[Problem] = []
    revision = load_revision_dir(
        directory,
        name=name,
        version=version,
        runtime_variant=runtime_variant,
        target=target,
        strict=strict,
        warnings=warnings,
        file_digests=ContentCache().file_digests,  # unchanged weights are not hashed again
    )
    for warning in warnings:  # the same warnings `msr validate` prints (skipped files, unknown keys)
        output.note(f"warning: {warning}", quiet=quiet)
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
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE label (repeatable).")] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="KEY=NUMBER metric (repeatable).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="KEY=VALUE parameter (repeatable).")
    ] = None,
    parent: Annotated[str | None, typer.Option(help="Revision this one derives from (lineage).")] = None,
    run_id: Annotated[str | None, typer.Option(help="Training run id (lineage).")] = None,
    dataset_version: Annotated[str | None, typer.Option(help="Dataset version (lineage).")] = None,
    code_commit: Annotated[str | None, typer.Option(help="Code commit (lineage).")] = None,
    description: Annotated[str | None, typer.Option(help="Free-text description.")] = None,
    created_by: Annotated[str | None, typer.Option(help="Author; default: the local user.")] = None,
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
    fmt: Output = OutputFormat.text,
) -> None:
    """Publish a revision directory as NAME:VERSION (SemVer 2.0): every file as written, with its mode."""
    settings = settings_of(ctx)
    located, version = run(settings, lambda: inputs.split_version(ref))
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
            quiet=settings.quiet,
        ),
    )
    total = _upload_size(revision) if progress.wanted(settings) else None

    async def publish(reg: AsyncRemoteRegistry) -> str:
        with progress.transfer(settings, f"push {located.name}:{version}", total) as advance:
            if update:  # the registry maps a semver "+" in the reference onto its tag
                return await reg.update_revision(f"{located.name}:{version}", revision, progress=advance)
            return await reg.create_revision(
                revision, overwrite=force, progress=advance, any_version=any_version
            )

    revision_id = run_with_registry(settings, located.namespace, publish)
    record = _id_record(revision_id, name=revision.name, version=revision.version)
    output.emit(fmt, record, lambda: typer.echo(revision_id))


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def pull(
    ctx: typer.Context,
    ref: RefArg,
    directory: Annotated[Path, typer.Option("--dir", "-o", help="Directory to write the files into.")],
    policy: PolicyOpt = None,
    stage: StageOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Write a revision's files into a directory, each verified against its digest (with --policy:
    only a revision signed and approved as the policy requires)."""
    settings = settings_of(ctx)
    choice = inputs.policy_choice(policy)

    async def pull_files(reg: AsyncRemoteRegistry) -> ModelServingRevision:
        with progress.transfer(settings, f"pull {ref}") as advance:
            pulled = await reg.pull(ref, directory, progress=advance, policy=choice, stage=stage)
        note_pins(settings, reg)
        return pulled

    revision = run_with_registry(settings, None, pull_files)
    from msr_oci.revision import DEPLOYMENT_CONFIG_FILE, MODEL_DEFINITION_FILE

    files = [MODEL_DEFINITION_FILE, DEPLOYMENT_CONFIG_FILE, *(f.path for f in revision.extra_files)]
    written = [f for f in files if (directory / f).is_file()]
    record = _id_record(revision.id or "", name=revision.name, version=revision.version)
    record.update(digest=revision.digest, path=str(directory), files=written)

    def human() -> None:
        for name in written:
            typer.echo(str(directory / name))

    output.emit(fmt, record, human)


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
        with progress.transfer(settings, f"fetch {ref}") as advance:
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
    source: Annotated[str, typer.Argument(help="Revision to copy.")],
    destination: Annotated[str, typer.Argument(help="Target repository ([HOST/NS/]NAME[:TAG]).")],
    fmt: Output = OutputFormat.text,
) -> None:
    """Copy a revision between registries and the local store (blobs first, manifest last)."""
    settings = settings_of(ctx)

    async def copy_revision(reg: AsyncRemoteRegistry) -> str:
        with progress.transfer(settings, f"copy {source}") as advance:
            return await reg.copy(source, destination, progress=advance)

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
    file: Annotated[Path, typer.Argument(help="Tarball written by `msr export` or skopeo (oci-archive:).")],
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
    aliases are recorded in their history; `_` tags and other foreign tags are refused (exit 2)."""
    settings = settings_of(ctx)
    ids = run_with_registry(settings, namespace, lambda reg: reg.import_archive(file, force=force))
    output.emit(fmt, [_id_record(i) for i in ids], lambda: typer.echo("\n".join(ids)))
