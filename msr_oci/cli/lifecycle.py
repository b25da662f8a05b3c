"""Commands that change where tags point: aliases, promote, rollback (archive, delete: retire.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from msr_oci.cli import inputs, output, views
from msr_oci.cli.completion import complete_alias, complete_ref, complete_version_or_alias
from msr_oci.cli.context import Settings, run, run_with_registry, settings_of
from msr_oci.cli.governance import note_pins
from msr_oci.cli.options import AliasArg, NameArg, Output
from msr_oci.cli.output import OutputFormat
from msr_oci.errors import InputError

if TYPE_CHECKING:
    from msr_oci.registry import AsyncRemoteRegistry

T = TypeVar("T")

alias_app = typer.Typer(
    help="Manage aliases (production, staging, ...) and their history.", no_args_is_help=True
)

#: alias moves are checked against the repository's stored policy when it has one
MovePolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        metavar="FILE",
        help="Policy whose rule for the alias the revision must meet: a YAML file; default: the "
        "repository's signed policy, if it has one.",
    ),
]


def _move(
    settings: Settings, namespace: str | None, move: Callable[[AsyncRemoteRegistry], Awaitable[T]]
) -> T:
    """Run an alias move, telling the user if the repository's policy was trusted on first use."""

    async def work(reg: AsyncRemoteRegistry) -> T:
        result = await move(reg)
        note_pins(settings, reg)
        return result

    return run_with_registry(settings, namespace, work)


def _show_entry(fmt: OutputFormat, entry: object) -> None:
    from msr_oci.registry import AliasEntry

    assert isinstance(entry, AliasEntry)
    output.emit(
        fmt, views.alias_record(entry), lambda: output.table(views.ALIAS_COLUMNS, [views.alias_row(entry)])
    )


@alias_app.command("set")
def alias_set(
    ctx: typer.Context,
    name: NameArg,
    alias: AliasArg,
    version: Annotated[
        str,
        typer.Argument(
            help="Version (or @sha256:... digest) to point the alias at.",
            autocompletion=complete_version_or_alias,
        ),
    ],
    policy: MovePolicyOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Point ALIAS at VERSION of NAME (recorded in the alias history); refused (exit 9) when the
    revision does not meet the policy's rule for ALIAS."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    choice = inputs.policy_choice(policy) or "repository"
    entry = _move(
        settings, located.namespace, lambda reg: reg.set_alias(located.name, alias, version, policy=choice)
    )
    _show_entry(fmt, entry)


@alias_app.command("rm")
def alias_rm(ctx: typer.Context, name: NameArg, alias: AliasArg, fmt: Output = OutputFormat.text) -> None:
    """Remove ALIAS from NAME (the removal is recorded in its history)."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    entry = run_with_registry(settings, located.namespace, lambda reg: reg.remove_alias(located.name, alias))
    _show_entry(fmt, entry)


@alias_app.command("ls")
def alias_ls(ctx: typer.Context, name: NameArg, fmt: Output = OutputFormat.text) -> None:
    """List NAME's active aliases."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    entries = run_with_registry(settings, located.namespace, lambda reg: reg.list_aliases(located.name))
    output.emit(
        fmt,
        {alias: views.alias_record(entry) for alias, entry in entries.items()},
        lambda: output.table(views.ALIAS_COLUMNS, [views.alias_row(e) for e in entries.values()]),
    )


@alias_app.command("history")
def alias_history(
    ctx: typer.Context, name: NameArg, alias: AliasArg, fmt: Output = OutputFormat.text
) -> None:
    """Every move of ALIAS, newest first."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    entries = run_with_registry(
        settings, located.namespace, lambda reg: reg.alias_history(located.name, alias)
    )
    output.emit(
        fmt,
        [views.alias_record(e) for e in entries],
        lambda: output.table(views.ALIAS_COLUMNS, [views.alias_row(e) for e in entries]),
    )


def promote(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME[:VERSION]",
            help="Revision NAME (then VERSION), or NAME:VERSION, optionally with a registry host.",
            autocompletion=complete_ref,
        ),
    ],
    version: Annotated[
        str | None,
        typer.Argument(
            help="Version to promote, unless NAME:VERSION names it.",
            autocompletion=complete_version_or_alias,
        ),
    ] = None,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="ALIAS",
            help="Alias to point at the version, e.g. production.",
            autocompletion=complete_alias,
        ),
    ] = "",
    policy: MovePolicyOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Point an alias at a version: msr promote NAME:VERSION --to ALIAS (or NAME VERSION --to ALIAS;
    same as msr alias set NAME ALIAS VERSION); refused (exit 9) unless the version meets the
    policy's rule for that stage, naming what is missing."""
    settings = settings_of(ctx)

    def parse() -> tuple[str, str]:
        if not to:
            raise InputError("promote needs the alias", hint="add --to ALIAS, e.g. --to production")
        return inputs.name_and_version(name, version)

    bare, chosen = run(settings, parse)
    alias_set(ctx, bare, to, chosen, policy, fmt)


def rollback(
    ctx: typer.Context,
    name: NameArg,
    alias: Annotated[
        str,
        typer.Option("--alias", metavar="ALIAS", help="Alias to move back.", autocompletion=complete_alias),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="Version to move to; default: the one before.",
            autocompletion=complete_version_or_alias,
        ),
    ] = None,
    policy: MovePolicyOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Move an alias back to the version it held before (or to --to VERSION); the policy's rule for
    the alias applies as for msr alias set."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    choice = inputs.policy_choice(policy) or "repository"
    entry = _move(
        settings, located.namespace, lambda reg: reg.rollback(located.name, alias, to, policy=choice)
    )
    _show_entry(fmt, entry)
