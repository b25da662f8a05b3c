"""Progress bars on transfers, only for a person watching a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from msr_oci.cli.context import Settings

ProgressCallback = Callable[[int], None]


def wanted(settings: Settings) -> bool:
    return not settings.quiet and sys.stderr.isatty()


@contextmanager
def transfer(
    settings: Settings, description: str, total: int | None = None
) -> Iterator[ProgressCallback | None]:
    """A byte-counting callback for the API's ``progress=`` (``None`` when no bar is wanted)."""
    if not wanted(settings):
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from msr_oci.cli.output import console

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.advance(task, done)
