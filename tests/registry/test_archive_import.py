"""``msr import`` of hostile OCI-layout archives: bounded by what manifests reference.

Every archive starts as a real ``msr export``; a hostile member is then added or swapped in. The
imports run as ``msr`` subprocesses under a file-size limit (RLIMIT_FSIZE) so that a client which
does extract everything fails early with EFBIG instead of filling the disk of the machine running
the tests.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import resource
import signal
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import msr, write_revision_dir

from msr_oci.errors import InputError, IntegrityError
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision.loader import load_revision_dir

pytestmark = pytest.mark.timeout(120)

GIB = 1024**3
#: no file the import writes may grow past this (the revision's blobs are a few KiB)
FILE_SIZE_LIMIT = 64 * 1024 * 1024
#: four times the file-size limit: decompressing it costs CPU time, so it is no bigger than that needs
BOMB_SIZE = 4 * FILE_SIZE_LIMIT
UNREFERENCED = "blobs/sha256/" + "e" * 64


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _address_space_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:155] = f"{sum(header):06o}\0".encode()


def sparse_member(name: str, size: int) -> bytes:
    """An old-GNU sparse member: ``size`` bytes that read as zeros, stored as one data block."""
    info = tarfile.TarInfo(name)
    info.size = 1
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:398] = tarfile.itn(size - 1, 12, tarfile.GNU_FORMAT)  # one data byte at the very end
    header[398:410] = tarfile.itn(1, 12, tarfile.GNU_FORMAT)
    header[483:495] = tarfile.itn(size, 12, tarfile.GNU_FORMAT)  # the size the member reads as
    _checksum(header)
    return bytes(header) + bytes(tarfile.BLOCKSIZE)


def _members_of(archive: Path, drop: str | None = None) -> bytes:
    """The archive's members re-written without its end-of-archive blocks (so more can follow)."""
    out = io.BytesIO()
    with tarfile.open(archive) as source:
        writer = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        for member in source:
            if member.name != drop:
                writer.addfile(member, source.extractfile(member) if member.isfile() else None)
        # not closed: close() would write the end-of-archive blocks
    return out.getvalue()


def _end() -> bytes:
    return bytes(2 * tarfile.BLOCKSIZE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real ``export`` of one small revision (made once: every test only reads it) and its digest."""
    root = tmp_path_factory.mktemp("exported")
    revision = load_revision_dir(write_revision_dir(root / "rev"), name="boxed", version="2.0.0")

    async def publish_and_export() -> str:
        async with AsyncRemoteRegistry(root / "store", cache_dir=root / "cache") as registry:
            await registry.create_revision(revision)
            return await registry.export("boxed:2.0.0", root / "boxed.tar")

    return root / "boxed.tar", asyncio.run(publish_and_export())


def _layer_member(archive: Path) -> str:
    """The member holding the revision's one extra file (the largest blob of a small revision)."""
    with tarfile.open(archive) as tar:
        blobs = [m for m in tar if m.name.startswith("blobs/") and m.isfile()]
    return max(blobs, key=lambda m: m.size).name


@dataclass
class Importer:
    """Runs ``msr import`` into a fresh store with its own TMPDIR, under a file-size limit."""

    root: Path
    staging: Path

    def run(self, archive: Path, expect: int, preexec: Callable[[], None] | None = None) -> str:
        done = msr(
            "import", str(archive), expect=expect, preexec=preexec or _file_size_limit(FILE_SIZE_LIMIT)
        )
        assert list(self.staging.iterdir()) == []  # nothing left behind in TMPDIR
        return done.stderr

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path


@pytest.fixture
def importer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: object) -> Importer:
    staging = tmp_path / "tmpdir"
    staging.mkdir()
    monkeypatch.setenv("TMPDIR", str(staging))
    return Importer(tmp_path, staging)


def test_a_sparse_8_gib_member_no_manifest_names_is_never_written(
    exported: tuple[Path, str], importer: Importer
) -> None:
    archive, digest = exported
    hostile = importer.write(
        "sparse.tar", _members_of(archive) + sparse_member(UNREFERENCED, 8 * GIB) + _end()
    )
    assert hostile.stat().st_size < 64 * 1024  # a small file that reads as 8 GiB
    importer.run(hostile, expect=0)
    assert msr("get", "boxed:2.0.0", "--output", "json").json()["digest"] == digest


def test_a_referenced_member_larger_than_its_descriptor_is_refused_before_copying(
    exported: tuple[Path, str], importer: Importer
) -> None:
    archive, _ = exported
    layer = _layer_member(archive)
    hostile = importer.write(
        "swapped.tar", _members_of(archive, drop=layer) + sparse_member(layer, 8 * GIB) + _end()
    )
    stderr = importer.run(hostile, expect=IntegrityError.exit_code)
    assert layer in stderr and f"got {8 * GIB}" in stderr and "size mismatch" in stderr
    # nothing published: the name is unknown (exit 3), not a name with no versions
    assert "no revision named 'boxed'" in msr("versions", "boxed", expect=3).stderr


def test_a_gzip_bomb_member_no_manifest_names_is_never_written(
    exported: tuple[Path, str], importer: Importer
) -> None:
    archive, digest = exported
    mib_of_zeros = gzip.compress(bytes(1024 * 1024), compresslevel=9)
    bomb_header = tarfile.TarInfo(UNREFERENCED)
    bomb_header.size = BOMB_SIZE
    # gzip members concatenate: each MiB of zeros costs about 1 KiB of archive
    head = gzip.compress(_members_of(archive) + bomb_header.tobuf(tarfile.PAX_FORMAT))
    body = mib_of_zeros * (BOMB_SIZE // (1024 * 1024))
    hostile = importer.write("bomb.tar.gz", head + body + gzip.compress(_end()))
    assert hostile.stat().st_size < BOMB_SIZE // 500
    importer.run(hostile, expect=0)
    assert msr("get", "boxed:2.0.0", "--output", "json").json()["digest"] == digest


def test_a_missing_referenced_blob_is_named(exported: tuple[Path, str], importer: Importer) -> None:
    archive, _ = exported
    layer = _layer_member(archive)
    hostile = importer.write("incomplete.tar", _members_of(archive, drop=layer) + _end())
    stderr = importer.run(hostile, expect=InputError.exit_code)
    assert stderr.startswith(f"error: {hostile}: the archive has no {layer} (referenced by manifest sha256:")


def test_a_pax_header_declaring_gigabytes_is_refused_without_reading_it(
    exported: tuple[Path, str], importer: Importer
) -> None:
    archive, _ = exported
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = 4 * GIB
    hostile = importer.write("pax.tar", _members_of(archive) + pax.tobuf(tarfile.GNU_FORMAT) + _end())
    stderr = importer.run(hostile, expect=InputError.exit_code, preexec=_address_space_limit(2 * GIB))
    assert "declares 4294967296 bytes" in stderr


def test_a_full_disk_while_staging_names_the_file(exported: tuple[Path, str], importer: Importer) -> None:
    archive, _ = exported
    layer = _layer_member(archive)
    # every blob fits but the largest: writing it fails the way a full disk does (EFBIG, not ENOSPC)
    with tarfile.open(archive) as tar:
        limit = max(m.size for m in tar if m.name != layer and m.isfile()) + 1
    stderr = importer.run(archive, expect=1, preexec=_file_size_limit(limit))  # 1: StorageError
    assert f"cannot write {importer.staging}/" in stderr and layer in stderr
    assert "File too large" in stderr and "Traceback" not in stderr
