"""`msr cache verify`: every byte of the fetch cache hashed, damage found even at the same size."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import IsolatedEnv
from support import msr

from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.cache_check import verify_cache
from msr_oci.revision.loader import load_revision_dir


def _revision_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "model-definition.yaml").write_text("models: []\n")
    (root / "start.sh").write_text("#!/bin/sh\nexec serve\n")
    (root / "start.sh").chmod(0o755)
    (root / "weights.bin").write_bytes(b"0123456789" * 100)
    return root


async def _fetched(tmp_path: Path) -> tuple[str, Path]:
    source = _revision_dir(tmp_path / "src")
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(load_revision_dir(source, name="echo", version="1.0.0"))
        fetched = await reg.fetch(revision_id)
    return revision_id, fetched.path


async def test_a_clean_cache_verifies_and_nothing_is_removed(tmp_path: Path, isolated_env: object) -> None:
    await _fetched(tmp_path)
    cache = ContentCache(tmp_path / "cache")
    before = sorted(p for p in cache.root.rglob("*") if p.is_file())
    report = verify_cache(cache)
    assert report.clean and report.revisions_checked == 1 and report.blobs_checked >= 4
    assert sorted(p for p in cache.root.rglob("*") if p.is_file()) == before


async def test_same_size_edit_of_a_fetched_file_is_found_and_removed(
    tmp_path: Path, isolated_env: object
) -> None:
    revision_id, files = await _fetched(tmp_path)
    weights = files / "weights.bin"
    weights.chmod(0o644)
    weights.write_bytes(b"9876543210" * 100)  # same size: a cache hit's size check cannot see it
    weights.chmod(0o444)
    cache = ContentCache(tmp_path / "cache")
    report = verify_cache(cache)
    [(digest, problems)] = report.damaged_revisions.items()
    assert problems == ["files/weights.bin"] and report.removed
    assert not cache.has_revision(digest)
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        again = await reg.fetch(revision_id)  # rebuilt from verified blobs
    assert (again.path / "weights.bin").read_bytes() == b"0123456789" * 100


async def test_cli_reports_a_damaged_blob_with_exit_7_and_keep_leaves_it(
    tmp_path: Path, isolated_env: IsolatedEnv
) -> None:
    source = _revision_dir(tmp_path / "src")
    async with AsyncRemoteRegistry(isolated_env.store, cache_dir=isolated_env.cache_dir) as reg:
        await reg.fetch(await reg.create_revision(load_revision_dir(source, name="echo", version="1.0.0")))
    cache = ContentCache(isolated_env.cache_dir)
    blob = next(p for p in (cache.root / "blobs").glob("*/*") if p.stat().st_size == 1000)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"x" * 1000)
    kept = msr("cache", "verify", "--keep", "--output", "json", expect=7)
    assert f"blob sha256:{blob.name}" in kept.stderr and "kept (--keep)" in kept.stderr
    assert json.loads(kept.stdout)["damaged_blobs"] == [f"sha256:{blob.name}"]
    assert blob.exists()
    removed = msr("cache", "verify", expect=7)
    assert "removed" in removed.stderr
    assert not blob.exists()
    clean = msr("cache", "verify")
    assert "checked" in clean.stdout
