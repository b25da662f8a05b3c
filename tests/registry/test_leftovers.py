"""What interrupted or failing transfers leave behind, and what people are told.

- a pull or copy killed mid-transfer leaves temp files; the next pull, ``msr cache prune`` and the
  store's gc remove them, and never one a live transfer is still writing;
- ``push`` warns about the entries it skips, as ``validate`` does;
- a write that fails for lack of space names the file.

Slow transfers come from a real server on a loopback socket that paces its body (tests/faults.py);
processes are killed with SIGKILL, which nothing can clean up after.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import IsolatedEnv
from faults import Answer, Request, ScriptedServer
from support import MSR, msr, write_revision_dir
from test_hostile_registry import REPOSITORY, TAG, HostileRegistry

from msr_oci.oci.layout import OCILayout
from msr_oci.revision.loader import load_revision_dir

pytestmark = pytest.mark.timeout(120)

#: the file the gated registry holds back (written by ``write_revision_dir``)
WEIGHTS = "weights/model.bin"
WEIGHTS_SIZE = 256 * 1024


def test_push_prints_the_warnings_validate_prints(tmp_path: Path, isolated_env: object) -> None:
    root = write_revision_dir(tmp_path / "rev")
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the revision")
    os.symlink(outside, root / "leak.txt")
    os.mkfifo(root / "pipe")
    validated = msr("validate", str(root)).stdout.splitlines()
    skipped = [line for line in validated if "skipped" in line]
    assert len(skipped) == 2  # the symlink leaving the directory and the FIFO

    pushed = msr("push", str(root), "boxed:1.0.0", "--output", "json")
    assert [line for line in pushed.stderr.splitlines() if line.startswith("warning: ")] == [
        f"warning: {line}" for line in skipped
    ]
    assert pushed.json()["version"] == "1.0.0"  # stdout stays the record alone


# ---- interrupted transfers ----------------------------------------------------------------------


@dataclass
class StalledRegistry:
    """A registry serving ``team/model:1.0.0`` whose files stall after their first piece until released.

    Each file's temp file then exists with part of its content, and none finishes on its own. The
    config is served whole: copy reads it before any file.
    """

    server: ScriptedServer
    gate: threading.Event
    file_count: int

    def release(self) -> None:
        self.gate.set()

    @property
    def ref(self) -> str:
        return f"{self.server.host}/{REPOSITORY}:{TAG}"


@pytest.fixture
def stalled(isolated_env: object, tmp_path: Path) -> Iterator[StalledRegistry]:
    source = write_revision_dir(tmp_path / "published", weights=os.urandom(WEIGHTS_SIZE))
    hostile = HostileRegistry.serving_a_revision(load_revision_dir(source, name="model", version=TAG))
    gate = threading.Event()

    files = {layer["digest"] for layer in hostile.manifest["layers"]}

    async def handle(request: Request) -> Answer:
        answer = await hostile.handle(request)
        if request.path.rpartition("/")[2] in files and answer.status == 200:
            answer.piece, answer.hold = max(len(answer.body) // 2, 1), gate
        return answer

    with ScriptedServer(handle) as server:
        yield StalledRegistry(server, gate, len(files))
        gate.set()


def _start_msr(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(MSR), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(count: int, find: Callable[[], list[Path]], process: subprocess.Popen[str]) -> list[Path]:
    """Poll until ``find`` returns ``count`` paths (bounded by the test timeout) while the process runs."""
    while len(found := find()) < count:
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    return found


def _temp_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(".*") if p.name.endswith(".part") or p.name.startswith(".tmp-"))


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_killed_pull_leaves_part_files_that_the_next_pull_removes(
    stalled: StalledRegistry, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    pulling = _start_msr("pull", stalled.ref, "--dir", str(dest))
    left = _wait_for(stalled.file_count, lambda: _temp_files(dest), pulling)
    _kill(pulling)
    assert _temp_files(dest) == left and any(p.name.startswith(".model.bin.") for p in left)

    stalled.release()
    msr("pull", stalled.ref, "--dir", str(dest))
    assert _temp_files(dest) == []
    assert (dest / WEIGHTS).stat().st_size == WEIGHTS_SIZE


def test_cache_prune_keeps_the_temp_files_of_a_fetch_still_running(
    stalled: StalledRegistry, isolated_env: IsolatedEnv
) -> None:
    fetching = _start_msr("fetch", stalled.ref)
    held = _wait_for(stalled.file_count, lambda: _temp_files(isolated_env.cache_dir), fetching)
    msr("cache", "prune")
    assert _temp_files(isolated_env.cache_dir) == held  # a live writer's temp files are not abandoned
    stalled.release()
    out, err = fetching.communicate(timeout=60)
    assert fetching.returncode == 0, err
    assert (Path(out.strip()) / WEIGHTS).stat().st_size == WEIGHTS_SIZE


@pytest.mark.parametrize("cleanup", ["msr cache prune", "OCILayout.gc"])
def test_a_killed_copy_into_the_store_leaves_temp_blobs_that_cleanup_removes(
    stalled: StalledRegistry, isolated_env: IsolatedEnv, cleanup: str
) -> None:
    copying = _start_msr("copy", stalled.ref, "model")
    left = _wait_for(stalled.file_count, lambda: _temp_files(isolated_env.store), copying)
    _kill(copying)
    assert _temp_files(isolated_env.store) == left and all(p.name.startswith(".tmp-") for p in left)

    if cleanup == "msr cache prune":
        msr("cache", "prune")
    else:
        asyncio.run(OCILayout(isolated_env.store / "model").gc())
    assert _temp_files(isolated_env.store) == []
    stalled.release()
    msr("copy", stalled.ref, "model")  # the store still takes the revision whole
    assert msr("get", "model:1.0.0", "--output", "json").json()["version"] == TAG


def test_a_killed_export_leaves_its_staging_directory_that_the_next_export_removes(
    stalled: StalledRegistry, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    exporting = _start_msr("export", stalled.ref, str(out / "model.tar"))
    staging = _wait_for(1, lambda: sorted(p for p in out.glob(".msr-export-*") if p.is_dir()), exporting)
    _wait_for(stalled.file_count, lambda: _temp_files(staging[0]), exporting)
    _kill(exporting)
    assert staging[0].is_dir() and not (out / "model.tar").exists()

    stalled.release()
    msr("export", stalled.ref, str(out / "model.tar"))
    assert sorted(p.name for p in out.iterdir()) == ["model.tar"]
    assert tarfile.is_tarfile(out / "model.tar")


# ---- a full disk --------------------------------------------------------------------------------


def test_a_pull_that_runs_out_of_space_names_the_file(stalled: StalledRegistry, tmp_path: Path) -> None:
    stalled.release()
    dest = tmp_path / "dest"

    def small_files() -> None:  # EFBIG past 64 KiB: the way a full disk fails a write, with another errno
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = msr("pull", stalled.ref, "--dir", str(dest), expect=1, preexec=small_files)  # 1: StorageError
    assert done.stderr.startswith(f"error: cannot write {dest / WEIGHTS}: File too large")
    assert _temp_files(dest) == []
