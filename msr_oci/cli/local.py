"""Commands on this machine: validate, schema, cache, login, logout."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from msr_oci.cli import output
from msr_oci.cli.context import run, settings_of
from msr_oci.cli.errors import EXIT_INPUT
from msr_oci.cli.options import Output, Strict, Target, TargetRelease
from msr_oci.cli.output import OutputFormat
from msr_oci.errors import AuthError, InputError
from msr_oci.oci.reference import validate_host

cache_app = typer.Typer(help="Inspect and prune the local fetch cache.", no_args_is_help=True)

_SECONDS_PER_DAY = 86_400


def _problem_record(problem: Any) -> dict[str, Any]:
    record = output.jsonable(problem)
    if not isinstance(record, dict):
        record = {"message": str(problem)}
    return record


def validate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Revision directory to check.")],
    target: Target = TargetRelease.head,
    strict: Strict = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Check a revision directory the way Backend.AI reads it (exit 2 when there are errors); also
    lists what the default excludes and .msrignore leave out of a publish."""
    settings = settings_of(ctx)
    excluded: list[Any] = []

    def check() -> list[Any]:
        from msr_oci.revision.loader import validate_revision_dir

        return list(validate_revision_dir(directory, target=target.value, strict=strict, excluded=excluded))

    problems = run(settings, check)
    records = [_problem_record(p) for p in problems]
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"]

    def human() -> None:
        if not errors:
            typer.echo(f"{directory}: ok")
        for problem in problems:
            typer.echo(str(problem))
        for exclusion in excluded:
            typer.echo(f"left out: {exclusion}")

    record = {
        "path": str(directory),
        "valid": not errors,
        "problems": records,
        "excluded": [{"path": e.path, "reason": e.reason} for e in excluded],
    }
    output.emit(fmt, record, human)
    if errors:
        raise typer.Exit(EXIT_INPUT)


def schema(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Schema name; without it, list the names.")] = None,
) -> None:
    """Print a JSON Schema of the revision formats (list the names without NAME)."""
    import json

    settings = settings_of(ctx)

    def lookup() -> Any:
        from msr_oci.revision.schema import schemas

        known = schemas()
        if name is None:
            return sorted(known)
        for candidate in (name, f"{name}.schema.json", f"{name}.json"):
            if candidate in known:
                return known[candidate]
        raise InputError(f"no schema named {name!r}", hint=f"known: {', '.join(sorted(known))}")

    found = run(settings, lookup)
    typer.echo("\n".join(found) if name is None else json.dumps(found, indent=2))


@cache_app.command("ls")
def cache_ls(ctx: typer.Context, fmt: Output = OutputFormat.text) -> None:
    """List revisions in the fetch cache."""
    settings = settings_of(ctx)

    def scan() -> tuple[Any, list[Any], int]:
        from msr_oci.registry.cache import ContentCache

        cache = ContentCache()
        return cache, cache.revisions(), cache.size()

    cache, revisions, size = run(settings, scan)
    records = [
        {"digest": r.digest, "path": str(r.path), "size": r.size, "modified": _iso(r.modified)}
        for r in revisions
    ]
    output.emit(
        fmt,
        {"root": str(cache.root), "size": size, "revisions": records},
        lambda: output.table(
            ("DIGEST", "SIZE", "LAST USED", "PATH"),
            [(r["digest"], r["size"], r["modified"], r["path"]) for r in records],
            title=f"{cache.root} ({size} bytes of blobs)",
        ),
    )


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@cache_app.command("verify")
def cache_verify(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Report damaged entries but leave them in place (to inspect them).")
    ] = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Hash every cached blob and fetched file; remove what no longer matches its digest (exit 7 if any).

    A fetch checks only sizes and modes on a cache hit; this reads every byte, so it also finds a file
    changed in place with the same size. Removed entries are downloaded and verified again when next
    fetched.
    """
    settings = settings_of(ctx)

    def check() -> Any:
        from msr_oci.registry.cache import ContentCache
        from msr_oci.registry.cache_check import verify_cache

        return verify_cache(ContentCache(), remove_damaged=not keep)

    report = run(settings, check)
    from msr_oci.registry.cache_check import damage_summary, report_record

    output.emit(
        fmt,
        report_record(report),
        lambda: typer.echo(
            f"checked {report.blobs_checked} blobs and {report.revisions_checked} revision directories"
        ),
    )
    if not report.clean:
        from msr_oci.cli.errors import report as report_error

        raise typer.Exit(report_error(damage_summary(report), debug=settings.debug))


@cache_app.command("prune")
def cache_prune(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="Only entries unused for DAYS days.", metavar="DAYS", min=0),
    ] = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Remove cached revisions (all, or those unused for --older-than DAYS) and unreferenced blobs.

    Also removes the temp files interrupted fetches left in the cache and interrupted pushes, copies
    and imports left in the embedded store; a transfer still running keeps its own.
    """
    settings = settings_of(ctx)

    def prune() -> int:
        from msr_oci.oci.layout import LocalStore
        from msr_oci.registry.cache import ContentCache
        from msr_oci.registry.namespace import default_store_path

        seconds = older_than * _SECONDS_PER_DAY if older_than is not None else None
        return (
            ContentCache().prune(older_than=seconds)
            + LocalStore(default_store_path()).remove_abandoned_temp_files()
        )

    freed = run(settings, prune)
    output.emit(fmt, {"freed_bytes": freed}, lambda: typer.echo(f"freed {freed} bytes"))


def _read_password(password_stdin: bool) -> str:

    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True)
    else:
        raise InputError("no terminal to ask for the password", hint="pipe it in with --password-stdin")
    if not password:
        raise InputError("the password is empty")
    return password


def login(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Registry host[:port].")],
    username: Annotated[
        str | None, typer.Option("--username", "-u", metavar="USER", help="User name.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Check credentials against a registry, then save them in Docker's config.json."""
    import asyncio

    settings = settings_of(ctx)

    def ask() -> tuple[str, str]:

        user = username or (typer.prompt("Username") if sys.stdin.isatty() and not password_stdin else None)
        if not user:
            raise InputError("a user name is required", hint="pass -u USER")
        return user, _read_password(password_stdin)

    user, password = run(settings, ask)

    async def check() -> None:
        from msr_oci.oci.remote import Registry

        registry = Registry(host, settings.registry_options(username=user, password=password))
        try:
            await registry.ping()
        except AuthError as exc:
            raise AuthError(
                f"login to {host} as {user!r} failed: {exc.message}", hint="check the user name and password"
            ) from None
        finally:
            await registry.aclose()

    def verify_and_store() -> Path:
        from msr_oci.oci.auth import store_credentials

        validate_host(host)
        asyncio.run(check())
        return store_credentials(host, user, password)

    path = run(settings, verify_and_store)
    output.note(f"credentials for {host} saved in {path}", quiet=settings.quiet)
    typer.echo("Login Succeeded")


def logout(ctx: typer.Context, host: Annotated[str, typer.Argument(help="Registry host[:port].")]) -> None:
    """Remove saved credentials for a registry."""
    settings = settings_of(ctx)

    def erase() -> bool:
        from msr_oci.oci.auth import erase_credentials

        return erase_credentials(host)

    if run(settings, erase):
        typer.echo(f"Removed login credentials for {host}")
    else:
        typer.echo(f"Not logged in to {host}")
