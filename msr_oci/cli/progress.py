"""Transfers as people watch them: a bar with the total and ETA on a terminal, "already exists" for
content not sent again, a status while files are hashed, and a tally for an interrupted push."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from msr_oci.cli.context import Settings

if TYPE_CHECKING:
    from msr_oci.oci.content import Descriptor

ProgressCallback = Callable[[int], None]
#: files smaller than this hash in a blink: the status names only larger ones
HASH_STATUS_MIN_BYTES: Final = 16 * 1024 * 1024


def wanted(settings: Settings) -> bool:
    return not settings.quiet and sys.stderr.isatty()


def human_size(size: int | float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def blob_name(descriptor: Descriptor) -> str:
    """The file a blob holds, or what it is."""
    if descriptor.title:
        return descriptor.title
    if "config" in descriptor.media_type:
        return "revision record"
    return descriptor.digest[:19]


class Tally:
    """What a transfer got done; enough to say what an interrupted push did and did not publish.
    It has the ``TransferEvents`` methods (not the class: msr_oci.oci loads only inside commands)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.moved = 0
        self.stored: list[Descriptor] = []
        self.skipped: list[Descriptor] = []
        self.manifest: Descriptor | None = None

    def __call__(self, size: int) -> None:
        self.moved += size

    def expect(self, total: int) -> None:
        self.total = total

    def blob_done(self, descriptor: Descriptor, *, skipped: bool) -> None:
        (self.skipped if skipped else self.stored).append(descriptor)

    def manifest_pushed(self, descriptor: Descriptor) -> None:
        self.manifest = descriptor


class _Bar(Tally):
    def __init__(self, bar: Any, task: Any, skipped_note: str) -> None:
        super().__init__()
        self._bar = bar
        self._task = task
        self._skipped_note = skipped_note

    def __call__(self, size: int) -> None:
        super().__call__(size)
        self._bar.advance(self._task, size)

    def expect(self, total: int) -> None:
        super().expect(total)
        self._bar.update(self._task, total=total)

    def blob_done(self, descriptor: Descriptor, *, skipped: bool) -> None:
        super().blob_done(descriptor, skipped=skipped)
        if skipped and descriptor.size:
            name, size = blob_name(descriptor), human_size(descriptor.size)
            self._bar.console.print(f"{name}: {self._skipped_note} ({size}, not sent)", markup=False)


@contextmanager
def transfer(
    settings: Settings, description: str, total: int | None = None, *, skipped_note: str = "already exists"
) -> Iterator[Tally]:
    """A ``TransferProgress`` for the API's ``progress=``: a bar with total and ETA when a person
    watches stderr, else a silent tally."""
    if not wanted(settings):
        tally = Tally()
        tally.total = total
        yield tally
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
        progress = _Bar(bar, task, skipped_note)
        progress.total = total
        yield progress


@contextmanager
def hashing_status(settings: Settings, directory: str) -> Iterator[Callable[[str, int], None] | None]:
    """A callback naming each large file while it is hashed (a spinner on stderr), or None."""
    if not wanted(settings):
        yield None
        return
    from msr_oci.cli.output import console

    with console(stderr=True).status(f"reading {directory}") as status:

        def hashing(relative: str, size: int) -> None:
            if size >= HASH_STATUS_MIN_BYTES:
                status.update(f"hashing {relative} ({human_size(size)})")

        yield hashing
