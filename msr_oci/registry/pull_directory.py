"""The directory a pull writes: never mixed with other content, never changed before every file is in.

* A directory that holds anything is refused unless ``force``; with ``force`` it ends up holding
  exactly the revision (what else was there is removed; symlinks are removed, never followed).
* Files are downloaded and verified into a staging directory *inside* the destination (so nothing is
  written outside it, and a mount point works), locked while the pull runs; the destination's own
  entries change only once every file is there, by renames.
* A staging directory a killed pull left behind is removed by the next pull (its lock is free).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from msr_oci.errors import ConflictError, InputError, Remedy, StorageError, writing
from msr_oci.oci.tempfiles import locked_temp_dir, remove_abandoned

__all__ = ["STAGING_PREFIX", "DestinationNotEmpty", "install", "prepare", "staged"]

#: staging directories inside the destination: ``.msr-pull-<random>``
STAGING_PREFIX: Final = ".msr-pull-"


class DestinationNotEmpty(ConflictError):
    """A pull into a directory that already holds files, without ``force`` (exit 5)."""


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(directory))
    except FileNotFoundError:
        return []


def _refuse(destination: Path, found: list[str]) -> DestinationNotEmpty:
    shown = ", ".join(sorted(found)[:5]) + (", ..." if len(found) > 5 else "")
    return DestinationNotEmpty(
        f"{destination} is not empty ({shown})",
        hint="pull into a new or empty directory",
        where=str(destination),
        remedies=(Remedy.REPLACE_DIRECTORY,),
    )


def prepare(destination: Path, *, force: bool) -> None:
    """Before anything is downloaded: remove staging directories killed pulls left, then refuse a
    destination that is not a directory, another pull's, or (without ``force``) not empty."""
    if destination.exists() and not destination.is_dir():
        raise InputError(f"{destination} is not a directory", hint="give a directory to pull into")
    entries = _entries(destination)
    remove_abandoned(Path(e.path) for e in entries if e.name.startswith(STAGING_PREFIX))
    entries = _entries(destination)
    if any(e.name.startswith(STAGING_PREFIX) for e in entries):
        raise ConflictError(f"another pull is writing into {destination}", hint="wait for it to finish")
    if entries and not force:
        raise _refuse(destination, [e.name for e in entries])


@contextlib.contextmanager
def staged(destination: Path) -> Iterator[Path]:
    """A locked staging directory inside ``destination`` (created if need be), removed afterwards.
    Write errors inside it name the file's final path in ``destination``."""
    with writing(destination):
        destination.mkdir(parents=True, exist_ok=True)
    with locked_temp_dir(destination, prefix=STAGING_PREFIX) as staging:
        try:
            yield staging
        except StorageError as exc:
            final = Path(exc.path)
            cause = exc.__cause__
            if final.is_relative_to(staging) and isinstance(cause, OSError):
                raise StorageError(str(destination / final.relative_to(staging)), cause) from cause
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _remove(entry: os.DirEntry[str]) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)  # does not follow symlinks inside (fd-based on Linux)
    else:
        os.unlink(entry.path)  # a file, or a symlink itself (never what it points at)


def install(staging: Path, destination: Path, *, force: bool) -> None:
    """Make ``destination`` hold exactly what ``staging`` holds: with ``force``, everything else in
    it goes first; then each of staging's entries is renamed into place."""
    with writing(destination):
        others = [e for e in _entries(destination) if e.name != staging.name]
        if others and not force:  # something appeared while the files were downloaded
            raise _refuse(destination, [e.name for e in others])
        for entry in others:
            _remove(entry)
        for entry in _entries(staging):
            os.replace(entry.path, destination / entry.name)
