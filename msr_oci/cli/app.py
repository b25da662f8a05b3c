"""The ``msr`` typer app: global options and the command table.

Commands live in small modules; heavy imports (httpx, pydantic models, rich) happen inside them,
so ``msr --help`` and shell completion stay fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from msr_oci.cli import governance, lifecycle, local, metadata, queries, retire, transfers
from msr_oci.cli.context import Settings, configure_logging, settings_of
from msr_oci.cli.global_options import GlobalOptionsGroup
from msr_oci.cli.options import Output
from msr_oci.cli.output import OutputFormat

app = typer.Typer(
    name="msr",
    cls=GlobalOptionsGroup,  # global options may also follow the command: msr push DIR REF -q
    help="Publish and fetch Backend.AI model serving revisions on OCI registries. Global options "
    "may also follow the command.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are one line; --debug prints a plain traceback
)


def _print_version(value: bool) -> None:
    if value:
        from msr_oci._version import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def configure(
    ctx: typer.Context,
    plain_http: Annotated[
        bool, typer.Option("--plain-http", help="Talk HTTP, not HTTPS (default only for loopback hosts).")
    ] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Skip TLS certificate verification.")] = False,
    ca_file: Annotated[
        str | None,
        typer.Option("--ca-file", metavar="PEM", help="CA bundle (PEM) to verify the registry with."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Log requests and show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or notes.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the msr-oci version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    configure_logging(debug)
    ctx.obj = Settings(
        plain_http=True if plain_http else None,
        insecure=insecure,
        ca_file=ca_file,
        debug=debug,
        quiet=quiet,
    )


@app.command()
def version(ctx: typer.Context, fmt: Output = OutputFormat.text) -> None:
    """Print the msr-oci version."""
    from msr_oci._version import __version__
    from msr_oci.cli import output

    settings_of(ctx)
    output.emit(fmt, {"version": __version__}, lambda: typer.echo(__version__))


app.command()(transfers.push)
app.command()(transfers.pull)
app.command()(queries.get)
app.command("inspect", help="Show a revision (same as msr get).")(queries.get)
app.command()(transfers.fetch)
app.command("list")(queries.list_revisions)
app.command()(queries.versions)
app.command()(queries.index)
app.command()(queries.history)
app.command()(metadata.label)
app.command()(metadata.metric)
app.command()(metadata.describe)
app.add_typer(lifecycle.alias_app, name="alias")
app.command()(lifecycle.promote)
app.command()(lifecycle.rollback)
app.command()(queries.diff)
app.command()(queries.render)
app.command()(retire.delete)
app.command()(retire.archive)
app.command()(retire.unarchive)
app.command()(transfers.copy)
app.command()(transfers.export)
app.command("import")(transfers.import_)
app.command()(local.validate)
app.command()(local.schema)
app.command()(local.login)
app.command()(local.logout)
app.add_typer(local.cache_app, name="cache")
app.command()(governance.sign)
app.command()(governance.approve)
app.command()(governance.discover)
app.command("signatures", help="List a revision's signatures and approvals (same as msr discover).")(
    governance.discover
)
app.command()(governance.verify)
app.command()(governance.audit)
app.add_typer(governance.policy_app, name="policy")
