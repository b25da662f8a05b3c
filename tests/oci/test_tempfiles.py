"""The one atomic-write helper: a locked temp file beside the target, renamed on success only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from msr_oci.errors import StorageError
from msr_oci.oci.tempfiles import TEMP_SUFFIX, atomic_file, remove_abandoned_beside, staged_file


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(TEMP_SUFFIX))


@pytest.mark.parametrize("fsync", [False, True])
def test_atomic_file_replaces_the_target_whole_and_leaves_no_temp_file(tmp_path: Path, fsync: bool) -> None:
    target = tmp_path / "deep" / "config.json"
    with atomic_file(target, fsync=fsync, mode=0o640) as fh:
        fh.write(b"new")
        assert not target.exists()  # nothing at the final path until the block succeeds
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640
    assert _leftovers(target.parent) == []


def test_a_failed_write_keeps_the_old_content_and_removes_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "pin.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_staged_file_is_renamed_when_kept_and_dropped_when_not(tmp_path: Path) -> None:
    kept, dropped = tmp_path / "kept.bin", tmp_path / "dropped.bin"
    with staged_file(kept, fsync=True) as staged:
        staged.path.write_bytes(b"downloaded")  # the writer opens the path itself
        # a live writer's temp file is locked: a cleaner leaves it alone
        assert remove_abandoned_beside([kept]) == 0 and staged.path.exists()
    with staged_file(dropped) as staged:
        staged.path.write_bytes(b"partial")
        staged.keep = False
    assert kept.read_bytes() == b"downloaded" and not dropped.exists()
    assert _leftovers(tmp_path) == []


def test_a_write_error_names_the_final_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(StorageError) as caught, atomic_file(blocker / "x.json") as fh:
        fh.write(b"never")
    assert str(blocker / "x.json") in str(caught.value) and caught.value.where == os.fspath(
        blocker / "x.json"
    )
