"""Everyday CLI habits: global options anywhere, --version, promote NAME:VERSION, readable help,
shell completion, list columns, progress with totals and "already exists", and Ctrl-C mid-push."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import typer
from conftest import IsolatedEnv
from faults import Answer, FaultProxy, Request
from registry_harness import RegistryServer
from support import MSR, msr, push, write_revision_dir
from typer.testing import CliRunner

from msr_oci import __version__
from msr_oci.cli.app import app
from msr_oci.cli.progress import Tally
from msr_oci.oci import Descriptor, TransferProgress
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision.loader import load_revision_dir

# ---- global options, --version, promote ---------------------------------------------------------


def test_global_options_may_follow_the_command(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev", weights=b"x" * 10)
    pushed = msr("push", str(root), "habit:1.0.0", "-q", "--output", "json", "--plain-http").json()
    assert pushed["version"] == "1.0.0"
    # an option of the command that takes a value keeps a value that looks like a global option
    msr("push", str(root), "habit:1.0.1", "--description", "-q")
    assert msr("get", "habit:1.0.1", "--output", "json", "--debug").json()["description"] == "-q"
    # nested commands too, and a global option's value comes along
    msr("alias", "ls", "habit", "--quiet", "--ca-file", str(tmp_path / "unused.pem"))
    assert msr("--version").stdout.strip() == __version__
    assert msr("get", "--version").stdout.strip() == __version__


def test_promote_takes_name_colon_version(isolated_env: object, tmp_path: Path) -> None:
    push(write_revision_dir(tmp_path / "rev"), "promoted:1.0.0")
    entry = msr("promote", "promoted:1.0.0", "--to", "production", "--output", "json").json()
    assert (entry["alias"], entry["version"], entry["action"]) == ("production", "1.0.0", "set")
    msr("promote", "promoted", "1.0.0", "--to", "staging")  # the two-argument form stays
    aliases = msr("alias", "ls", "promoted", "--output", "json").json()
    assert sorted(aliases) == ["production", "staging"]

    assert (
        "already names a version" in msr("promote", "promoted:1.0.0", "1.0.0", "--to", "x", expect=2).stderr
    )
    assert "names no version" in msr("promote", "promoted", "--to", "x", expect=2).stderr
    assert "--to ALIAS" in msr("promote", "promoted:1.0.0", expect=2).stderr


# ---- help ----------------------------------------------------------------------------------------

_PYTHON_TYPES = re.compile(r"<(?:str|bool|int|float|path|list\[[^\]]*\]|[a-z|]+)>")


def _command_paths(command: Any, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _command_paths(sub, [*path, name])
    return found


def test_every_help_shows_readable_metavars_and_no_backticks() -> None:
    runner = CliRunner()
    paths = _command_paths(typer.main.get_command(app), [])
    assert len(paths) > 30
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, (path, result.output)
        assert not _PYTHON_TYPES.search(result.output), (path, result.output)
        assert "`" not in result.output, (path, result.output)
    push_help = msr("push", "--help", stdin="").stdout
    assert "KEY=VALUE" in push_help and "KEY=NUMBER" in push_help and "DIRECTORY" in push_help


def test_the_command_list_gives_each_command_one_summary_line() -> None:
    listing = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400", "NO_COLOR": "1"}).output
    rows = [line for line in listing.splitlines() if line.startswith("│ ") and "─" not in line]
    commands = [row.split()[1] for row in rows if row[2] != " "]
    assert "push" in commands and "import" in commands and "copy" in commands
    # at 400 columns nothing wraps: a row that starts blank is a line break inside a summary
    assert [row for row in rows if row[2] == " " and row.strip("│ ")] == []


# ---- completion ------------------------------------------------------------------------------------


def _complete(*words: str) -> list[str]:
    """What bash completion offers after ``msr WORDS`` (the last word is the one being typed)."""
    env = {**os.environ, "_MSR_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(["msr", *words])}
    env["COMP_CWORD"] = str(len(words))
    done = subprocess.run([str(MSR)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.split()


def test_completion_offers_names_versions_and_aliases(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev")
    for ref in ("fraud-detector:1.0.0", "fraud-detector:1.1.0", "scorer:2.0.0"):
        push(root, ref, "--label", f"ref={ref}")
    msr("promote", "fraud-detector:1.0.0", "--to", "production")

    assert _complete("get", "") == ["fraud-detector", "scorer"]
    assert _complete("pull", "fr") == ["fraud-detector"]
    assert _complete("get", "fraud-detector:") == [
        "fraud-detector:1.0.0",
        "fraud-detector:1.1.0",
        "fraud-detector:production",
    ]
    assert _complete("get", "fraud-detector:p") == ["fraud-detector:production"]
    assert _complete("versions", "s") == ["scorer"]
    assert _complete("promote", "fraud-detector", "1.") == ["1.0.0", "1.1.0"]
    assert _complete("alias", "rm", "fraud-detector", "") == ["production"]
    assert _complete("rollback", "fraud-detector", "--alias", "") == ["production"]
    assert _complete("get", "no-such-name:") == []


def test_completion_gives_up_silently_on_a_silent_registry(isolated_env: object) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers
        host = f"127.0.0.1:{server.getsockname()[1]}"
        assert _complete("get", f"{host}/ns/model:") == []


# ---- list ----------------------------------------------------------------------------------------


def test_list_shows_labels_and_chosen_metrics(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev")
    push(root, "ranked:1.0.0", "--label", "team=risk", "--metric", "auc=0.91", "--metric", "f1=0.5")
    table = msr("list").stdout.splitlines()
    assert "LABELS" in table[0].split() and "team=risk" in table[1]
    table = msr("list", "--metric", "auc", "-m", "f1").stdout.splitlines()
    assert table[0].split()[-2:] == ["AUC", "F1"] and table[1].split()[-2:] == ["0.91", "0.5"]
    table = msr("list", "--columns", "name,version,label.team,metric.auc").stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "TEAM", "AUC"]
    assert table[1].split() == ["ranked", "1.0.0", "risk", "0.91"]
    assert "unknown column 'nope'" in msr("list", "--columns", "name,nope", expect=2).stderr


def test_copies_are_rows_of_their_own(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    pushed = push(write_revision_dir(tmp_path / "rev"), "original:1.0.0")
    # msr copy keeps name and version (test_copy_rules.py); another tool's copy need not
    store = isolated_env.store
    for destination in ("duplicate:1.0.0", "original:2.0.0"):
        source = f"oci:{store / 'original'}:1.0.0"
        subprocess.run(
            ["skopeo", "copy", "--preserve-digests", source, f"oci:{store / destination}"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    rows = msr("list", "--output", "json").json()
    assert [(r["name"], r["version"]) for r in rows] == [
        ("duplicate", "1.0.0"),
        ("original", "1.0.0"),
        ("original", "2.0.0"),
    ]
    assert {r["digest"] for r in rows} == {pushed["digest"]}
    assert [r["name"] for r in msr("list", "--filter", "name=dup*", "--output", "json").json()] == [
        "duplicate"
    ]
    versions = msr("list", "--filter", "version=>=2", "--output", "json").json()
    assert [(r["name"], r["version"]) for r in versions] == [("original", "2.0.0")]


# ---- progress ------------------------------------------------------------------------------------


class Recorder(Tally):
    """The CLI's tally (it has the TransferEvents methods), with the blobs in the order they finished."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[tuple[str | None, bool]] = []

    def blob_done(self, descriptor: Descriptor, *, skipped: bool) -> None:
        super().blob_done(descriptor, skipped=skipped)
        self.done.append((descriptor.title, skipped))


async def test_transfers_report_totals_and_content_already_there(
    registry: RegistryServer, tmp_path: Path
) -> None:
    root = write_revision_dir(tmp_path / "rev", weights=b"w" * 300_000)
    namespace = f"{registry.host}/{registry.unique_repository('progress')}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        first = Recorder()
        revision = load_revision_dir(root, name="watched", version="1.0.0")
        await reg.create_revision(revision, progress=first)
        assert first.total is not None and first.total == first.moved
        assert first.total > 300_000 and first.manifest is not None
        assert ("weights/model.bin", False) in first.done

        # a new version of the same files: the large file is already there (a file up to 256 KiB is
        # sent again in one request, which costs what asking would)
        again = Recorder()
        await reg.create_revision(revision.model_copy(update={"version": "1.0.1"}), progress=again)
        files = [title for title, _ in again.done if title is not None]
        assert sorted(files) == ["deployment-config.yaml", "model-definition.yaml", "weights/model.bin"]
        assert ("weights/model.bin", True) in again.done
        assert again.total == again.moved

        pulled = Recorder()
        await reg.pull("watched:1.0.0", tmp_path / "out", progress=pulled)
        assert (
            pulled.total
            == pulled.moved
            == sum(f.size for f in revision.extra_files) + sum(d.size for d in revision.documents)
        )
        totals: list[int] = []

        class OnlyTheTotal(TransferProgress):  # the API's base class: override what you show
            def expect(self, total: int) -> None:
                totals.append(total)

        await reg.pull("watched:1.0.0", tmp_path / "again", progress=OnlyTheTotal())
        assert totals == [pulled.total]
        fetched = [Recorder(), Recorder()]
        for recorder in fetched:
            await reg.fetch("watched:1.0.0", progress=recorder)
        assert not any(skipped for _, skipped in fetched[0].done)
        assert fetched[1].done and all(skipped for _, skipped in fetched[1].done)  # from the cache


def test_loader_names_each_file_before_hashing_it(tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev", weights=b"w" * 1234)
    (root / "tokenizer.json").write_bytes(b"{}")
    seen: list[tuple[str, int]] = []
    load_revision_dir(root, name="x", version="1.0.0", hashing=lambda path, size: seen.append((path, size)))
    assert sorted(seen) == [("tokenizer.json", 2), ("weights/model.bin", 1234)]


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run ``msr ARGS`` with stderr on a pseudo-terminal (where progress is drawn); (code, stderr)."""
    master, child_end = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    process = subprocess.Popen(
        [str(MSR), *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child_end, env=env
    )
    os.close(child_end)
    received = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                raise AssertionError("msr wrote nothing for 120 seconds")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
        code = process.wait(timeout=120)
    return code, received.decode("utf-8", "replace")


def test_push_on_a_terminal_shows_the_total_and_skipped_files(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev", weights=b"w" * 2_000_000)
    code, first = _on_a_terminal("push", str(root), "shown:1.0.0")
    assert code == 0 and re.search(r"/2\.0 MB", first)  # the total, known from the manifest
    code, second = _on_a_terminal("push", str(root), "shown:1.0.1")
    assert code == 0
    assert "weights/model.bin: already exists (2.0 MB, not sent)" in second
    assert "already exists" not in first


# ---- Ctrl-C during a push ----------------------------------------------------------------------------


class ManifestHold(FaultProxy):
    """Forwards everything to the registry but holds a manifest upload until the test ends."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.manifest_arrived = threading.Event()

    async def _handle(self, request: Request) -> Answer:
        if request.method == "PUT" and "/manifests/" in request.path:
            self.manifest_arrived.set()
            await asyncio.sleep(600)
        return await super()._handle(request)


def test_ctrl_c_during_push_says_what_was_not_published(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    root = write_revision_dir(tmp_path / "rev")
    (root / "tokenizer.json").write_bytes(b"{}")
    repository = registry.unique_repository("interrupted")
    with ManifestHold(registry.host) as proxy:
        process = subprocess.Popen(
            [str(MSR), "push", str(root), f"{proxy.host}/{repository}/held:1.0.0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.manifest_arrived.wait(timeout=60), "the manifest upload never started"
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130 and stdout == ""
    assert "Traceback" not in stderr
    assert f"interrupted: {proxy.host}/{repository}/held:1.0.0 was not published" in stderr
    assert "4 of 4 files are in the registry" in stderr and "pushing again sends only the rest" in stderr
    msr("get", f"{registry.host}/{repository}/held:1.0.0", expect=3)
