"""Temp files that tell whether their writer is still alive, and removing the abandoned ones.

Every write that must never be seen half-done goes through here: ``atomic_file`` (the caller writes
the bytes) or ``staged_file`` (a writer that opens the path itself), both a temp file beside the
final path, renamed onto it only when the block succeeds (with ``fsync``: file, then directory).

A writer holds an exclusive ``flock`` on its temp file (or temp directory) until it has renamed or
removed it. The kernel drops the lock when the process ends, however it ends (SIGKILL, a crash, a
power cut), so a temp entry on which a lock can be taken belongs to nobody, and removing it can
never pull a file from under a transfer still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from msr_oci.errors import writing

#: suffix of temp files beside their final path: ``.<name>.<random>.part``
TEMP_SUFFIX = ".part"
#: ``tempfile`` names are the prefix, this many random characters, then the suffix
_RANDOM_LENGTH = 8


def _locked(fd: int) -> bool:
    """Lock ``fd`` (waiting for a cleaner that holds it); ``False`` if the entry was removed meanwhile."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    return os.fstat(fd).st_nlink > 0


class _NamingWriter:
    """A binary file whose failed writes raise ``StorageError`` naming the final path, not nothing."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self._fh = fh
        self._path = path

    def write(self, data: bytes) -> int:
        with writing(self._path):
            return self._fh.write(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:  # large downloads write batches off the loop
        with writing(self._path):
            self._fh.writelines(chunks)

    def tell(self) -> int:  # tarfile asks where it is
        return self._fh.tell()


@contextlib.contextmanager
def atomic_file(
    path: Path,
    *,
    prefix: str | None = None,
    suffix: str = TEMP_SUFFIX,
    fsync: bool = False,
    mode: int | None = None,
) -> Iterator[_NamingWriter]:
    """A file to write ``path``'s new content into; renamed onto ``path`` when the block succeeds.

    The temp file (``.<name>.<random><suffix>`` beside ``path``) is locked until it is renamed or
    removed, so cleaners leave it alone; a failure removes it. Write errors name ``path``. ``mode``:
    permission bits set before the rename (default 0o600, from ``mkstemp``). ``fsync``: the file's
    bytes reach the disk before the rename, and the rename before the block ends.
    """
    with _staged(path, prefix, suffix) as (fd, tmp):
        with os.fdopen(fd, "wb", closefd=False) as fh:
            yield _NamingWriter(fh, path)
            with writing(path):
                fh.flush()
                if fsync:
                    os.fsync(fd)
                if mode is not None:
                    os.fchmod(fd, mode)
        _commit(tmp, path, fsync)


class StagedFile:
    """A locked temp path for a writer that opens it itself; ``keep = False`` drops it at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keep = True


@contextlib.contextmanager
def staged_file(path: Path, *, suffix: str = TEMP_SUFFIX, fsync: bool = False) -> Iterator[StagedFile]:
    """Like ``atomic_file``, for writers that open the temp path themselves (a direct download):
    renamed onto ``path`` when the block succeeds and ``keep`` is still set, else removed."""
    with _staged(path, None, suffix) as (fd, tmp):
        staged = StagedFile(tmp)
        yield staged
        if not staged.keep:
            tmp.unlink(missing_ok=True)
            return
        if fsync:
            with writing(path):
                os.fsync(fd)
        _commit(tmp, path, fsync)


@contextlib.contextmanager
def _staged(path: Path, prefix: str | None, suffix: str) -> Iterator[tuple[int, Path]]:
    """A locked temp file beside ``path``: removed if the block fails, closed when it ends."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _locked_temp_file(path.parent, prefix or f".{path.name}.", suffix)
    try:
        yield fd, tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path, fsync: bool) -> None:
    """Rename ``tmp`` onto ``path``; with ``fsync`` also the directory, so the rename survives a crash."""
    with writing(path):
        os.replace(tmp, path)
        if fsync:
            directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)


def _locked_temp_file(directory: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        if _locked(fd):
            return fd, Path(name)
        os.close(fd)  # a cleaner removed it between its creation and our lock: make another


@contextlib.contextmanager
def locked_temp_dir(directory: Path, *, prefix: str, suffix: str = "") -> Iterator[Path]:
    """A temp directory in ``directory``, locked until the block ends (the caller renames or removes it)."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=directory))
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        if _locked(fd):
            break
        os.close(fd)
    try:
        yield path
    finally:
        os.close(fd)


@contextlib.contextmanager
def scratch_directory(directory: Path, *, prefix: str) -> Iterator[Path]:
    """A locked temp directory in ``directory`` for work that leaves nothing behind (an archive
    being written or read), removed when the block ends. Those a killed process left there under
    the same ``prefix`` are removed first."""
    try:
        leftovers = [Path(e.path) for e in os.scandir(directory) if e.name.startswith(prefix)]
    except OSError:
        leftovers = []  # not there: mkdtemp says so with the path
    remove_abandoned(leftovers)
    with locked_temp_dir(directory, prefix=prefix) as path:
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _final_name(name: str, suffix: str) -> str | None:
    """``x`` for a temp name ``.x.<random><suffix>`` (as ``atomic_file`` makes them), else ``None``."""
    tail = 1 + _RANDOM_LENGTH + len(suffix)
    if not (name.startswith(".") and name.endswith(suffix) and len(name) > tail + 1):
        return None
    return name[1:-tail] if name[-tail] == "." else None


def remove_abandoned_beside(paths: Iterable[Path], suffix: str = TEMP_SUFFIX) -> int:
    """Remove abandoned temp files made for ``paths`` (each ``.<name>.<random><suffix>`` beside it).

    Each directory is listed once, however many of ``paths`` it holds. Returns the bytes freed.
    """
    names_by_directory: dict[Path, set[str]] = {}
    for path in paths:
        names_by_directory.setdefault(path.parent, set()).add(path.name)
    candidates: list[Path] = []
    for directory, names in names_by_directory.items():
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue  # not there yet: nothing left in it
        candidates += [Path(e.path) for e in entries if _final_name(e.name, suffix) in names]
    return remove_abandoned(candidates)


def remove_abandoned(paths: Iterable[Path]) -> int:
    """Remove the temp files and directories among ``paths`` that no live process holds; bytes freed."""
    freed = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or a symlink (never ours)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
                shutil.rmtree(path, ignore_errors=True)
            else:
                freed += info.st_size
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return freed
