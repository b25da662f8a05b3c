"""Digests of local files remembered by their ``stat`` identity: unchanged weights are not read again,
a changed file always is, and a wrong entry can never push wrong content."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support import EXAMPLES

from msr_oci.errors import IntegrityError
from msr_oci.oci.file_digests import FileDigests, hash_file
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision
from msr_oci.revision.loader import describe_extra_file, load_revision_dir

EXAMPLE = EXAMPLES / "vllm-llama"
AN_HOUR_AGO = time.time() - 3600


def _weights(directory: Path, data: bytes = b"weights " * 1000) -> Path:
    path = directory / "weights.bin"
    path.write_bytes(data)
    os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))  # not "racy": written well before it is hashed
    return path


def _poison(digests: FileDigests, path: Path) -> str:
    """Overwrite the remembered digest with another one, to see whether the file is read again."""
    other = "sha256:" + "ab" * 32
    digests.remember(path, other)
    return other


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    digests = FileDigests(tmp_path / "digests")
    path = _weights(tmp_path)
    first = describe_extra_file(path, digests=digests)
    assert (first.digest, first.size) == hash_file(path)
    other = _poison(digests, path)
    # the entry answers: the file was not read (its true digest would have come back)
    assert describe_extra_file(path, digests=digests).digest == other


def test_a_rewritten_file_is_hashed_again(tmp_path: Path) -> None:
    digests = FileDigests(tmp_path / "digests")
    path = _weights(tmp_path)
    describe_extra_file(path, digests=digests)
    _poison(digests, path)
    # same size, same mtime put back: the change time still moved
    path.write_bytes(b"WEIGHTS " * 1000)
    os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    assert describe_extra_file(path, digests=digests).digest == hash_file(path)[0]


def test_a_file_written_just_now_is_not_remembered(tmp_path: Path) -> None:
    digests = FileDigests(tmp_path / "digests")
    path = tmp_path / "fresh.bin"
    path.write_bytes(b"fresh")
    describe_extra_file(path, digests=digests)
    assert digests.lookup(path) is None


def test_the_loader_uses_the_digests(tmp_path: Path) -> None:
    directory = tmp_path / "revision"
    directory.mkdir()
    for name in ("model-definition.yaml", "deployment-config.yaml"):
        (directory / name).write_bytes((EXAMPLE / name).read_bytes())
    path = _weights(directory)
    digests = FileDigests(tmp_path / "digests")
    load_revision_dir(directory, name="m", version="1", file_digests=digests)
    other = _poison(digests, path)
    again = load_revision_dir(directory, name="m", version="1", file_digests=digests)
    assert [f.digest for f in again.extra_files] == [other]


async def test_a_wrong_entry_never_pushes_wrong_content(registry, isolated_env, tmp_path: Path) -> None:
    """The upload hashes what it sends: content that does not match the recorded digest never lands."""
    digests = FileDigests(tmp_path / "digests")
    path = _weights(tmp_path)
    describe_extra_file(path, digests=digests)
    _poison(digests, path)
    revision = ModelServingRevision(
        name="m",
        version="1.0.0",
        model_definition={"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
        extra_files=[describe_extra_file(path, digests=digests)],
    )
    namespace = f"{registry.host}/{registry.unique_repository('digests')}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as client:
        with pytest.raises(IntegrityError):
            await client.create_revision(revision)
        assert await client.versions("m") == []
