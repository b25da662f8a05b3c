"""Global options and the one place commands run: an event loop, a registry, error reporting."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

from msr_oci.cli.errors import report

if TYPE_CHECKING:
    from msr_oci.oci.remote import RegistryOptions
    from msr_oci.registry import AsyncRemoteRegistry

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The app callback's options, shared by every command through ``ctx.obj``."""

    plain_http: bool | None = None
    insecure: bool = False
    ca_file: str | None = None
    debug: bool = False
    quiet: bool = False

    def registry_options(self, username: str | None = None, password: str | None = None) -> RegistryOptions:
        from msr_oci.oci.remote import RegistryOptions

        return RegistryOptions(
            plain_http=self.plain_http,
            insecure=self.insecure,
            ca_file=self.ca_file,
            username=username,
            password=password,
        )

    def open(self, namespace: str | os.PathLike[str] | None = None) -> AsyncRemoteRegistry:
        from msr_oci.registry import AsyncRemoteRegistry

        return AsyncRemoteRegistry(namespace, options=self.registry_options())


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, Settings) else Settings()


def configure_logging(debug: bool) -> None:
    """``--debug``: everything, with logger names. Otherwise the library's warnings (a revision
    ``list`` skipped, an alias tag that disagrees with its log) as ``warning: ...`` lines on stderr."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        return
    library = logging.getLogger("msr_oci")
    if not any(isinstance(h, _WarningLines) for h in library.handlers):
        library.addHandler(_WarningLines(logging.WARNING))


class _WarningLines(logging.Handler):
    """``warning: MESSAGE`` on the current stderr (stdout stays the command's output)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"warning: {record.getMessage()}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def run(settings: Settings, work: Callable[[], T]) -> T:
    """Run a command body; any failure becomes one line on stderr and its exit code."""
    try:
        return work()
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise typer.Exit(report(exc, debug=settings.debug)) from None


def run_with_registry(
    settings: Settings,
    namespace: str | os.PathLike[str] | None,
    work: Callable[[AsyncRemoteRegistry], Awaitable[T]],
) -> T:
    """Open a registry for ``namespace``, await ``work`` on it, and close it (one event loop)."""
    import asyncio

    async def session() -> T:
        async with settings.open(namespace) as registry:
            return await work(registry)

    return run(settings, lambda: asyncio.run(session()))
