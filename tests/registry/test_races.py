"""Check-then-write races (issue 10, item 7), with real concurrency.

- Two different pushes of one version: exactly one wins, the other is a conflict (exit 5). On the
  store (two processes, a barrier before each push) the tag is compared and set under the index
  lock; on the registry (two threads) the tag is written and read back.
- Concurrent moves of one alias: every move reported is in the history, and the alias tag agrees
  with the log head at the end (store: processes; registry: threads).
- The interleaving a registry cannot refuse (both writers check, then both write) is forced by a
  loopback proxy that holds the two writes until both have arrived and holds the read-backs until
  both landed: two ``msr push`` / ``msr alias set`` processes, one told it lost (push) or retrying on
  top of the other (alias).
- A tag moved by another tool: ``get NAME:ALIAS``, ``alias ls`` and ``rollback`` warn, naming both.

Counts are bounded (a few rounds, tens of moves); nothing is timed.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import IsolatedEnv
from faults import Answer, FaultProxy, Request
from registry_harness import RegistryServer
from support import MSR, Space, make_space, msr, push, space_target, write_revision_dir
from test_fault_injection import make_revision

from msr_oci.oci.errors import MsrOciError
from msr_oci.registry import RemoteRegistry

pytestmark = pytest.mark.timeout(300)

VERSION_ROUNDS = 6
MOVERS = 3
MOVES_PER_MOVER = 8
VERSIONS = ("1.0.0", "2.0.0", "3.0.0")


# ---- workers (module level: processes started with "spawn" import them) ---------------------------


def _push_rounds(namespace: str, work: Path, index: int, barrier: Any, results: Any) -> None:
    """Each round: write this writer's content, wait for the other writer, push version 1.<round>.0."""
    with RemoteRegistry(namespace, cache_dir=work / f"cache-{index}") as reg:
        for round_ in range(VERSION_ROUNDS):
            source = work / f"w{index}-r{round_}.bin"
            source.write_bytes(f"writer {index}, round {round_}\n".encode() * 64)
            revision = make_revision("model", f"1.{round_}.0", {"weights.bin": source})
            barrier.wait(timeout=60)
            try:
                results.put((round_, index, "won", reg.create_revision(revision).rsplit("@", 1)[1]))
            except MsrOciError as exc:
                results.put((round_, index, type(exc).__name__, exc.exit_code))


def _move_alias(namespace: str, work: Path, index: int, barrier: Any, results: Any) -> None:
    """Move `production` MOVES_PER_MOVER times between the published versions; report each entry."""
    with RemoteRegistry(namespace, cache_dir=work / f"mover-{index}") as reg:
        barrier.wait(timeout=60)
        for move in range(MOVES_PER_MOVER):
            version = VERSIONS[(index + move) % len(VERSIONS)]
            try:
                results.put(("moved", reg.set_alias("model", "production", version).entry_digest))
            except MsrOciError as exc:
                results.put(("refused", f"{type(exc).__name__}: {exc}"))


Worker = Callable[[str, Path, int, Any, Any], None]


def _run_concurrently(
    worker: Worker, namespace: str, work: Path, count: int, *, processes: bool
) -> list[Any]:
    """Run ``count`` workers at once (processes or threads) and collect what they reported."""
    if processes:
        context = multiprocessing.get_context("spawn")
        barrier: Any = context.Barrier(count)
        results: Any = context.Queue()
        runners: list[Any] = [
            context.Process(target=worker, args=(namespace, work, i, barrier, results)) for i in range(count)
        ]
    else:
        barrier, results = threading.Barrier(count), queue.Queue()
        runners = [
            threading.Thread(target=worker, args=(namespace, work, i, barrier, results)) for i in range(count)
        ]
    for runner in runners:
        runner.start()
    reported: list[Any] = []
    while any(r.is_alive() for r in runners) or not results.empty():
        try:
            reported.append(results.get(timeout=0.5))
        except queue.Empty:
            continue
    for runner in runners:
        runner.join()
    if processes:
        assert [r.exitcode for r in runners] == [0] * count
    return reported


def _namespace(kind: str, registry: RegistryServer | None, env: IsolatedEnv) -> str:
    if kind == "store":
        return str(env.store)
    assert registry is not None
    return f"{registry.host}/{registry.unique_repository('race')}"


@pytest.fixture(params=["store", "registry"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _registry_for(kind: str, request: pytest.FixtureRequest) -> RegistryServer | None:
    return request.getfixturevalue("registry") if kind == "registry" else None


# ---- two pushes of one version ----------------------------------------------------------------------


def test_two_different_pushes_of_one_version_exactly_one_wins(
    kind: str, request: pytest.FixtureRequest, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    namespace = _namespace(kind, _registry_for(kind, request), isolated_env)
    reported = _run_concurrently(_push_rounds, namespace, tmp_path, 2, processes=kind == "store")
    assert len(reported) == 2 * VERSION_ROUNDS
    with RemoteRegistry(namespace, cache_dir=tmp_path / "check") as reg:
        for round_ in range(VERSION_ROUNDS):
            outcomes = sorted(r[2:] for r in reported if r[0] == round_)
            winners = [digest for outcome, digest in outcomes if outcome == "won"]
            assert len(winners) == 1, f"round {round_}: {outcomes}"
            assert ("VersionExists", 5) in outcomes, f"round {round_}: {outcomes}"
            held = reg.get_revision(f"model:1.{round_}.0", with_aliases=False)
            assert held.digest == winners[0]
    _report(request, f"{kind}: {VERSION_ROUNDS} rounds of two different pushes, one winner in each")


# ---- concurrent alias moves -------------------------------------------------------------------------


def test_concurrent_alias_moves_are_all_in_the_history(
    kind: str, request: pytest.FixtureRequest, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    namespace = _namespace(kind, _registry_for(kind, request), isolated_env)
    with RemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as reg:
        for version in VERSIONS:
            source = tmp_path / f"{version}.bin"
            source.write_bytes(version.encode() * 100)
            reg.create_revision(make_revision("model", version, {"weights.bin": source}))
    reported = _run_concurrently(_move_alias, namespace, tmp_path, MOVERS, processes=kind == "store")
    moved = [entry for outcome, entry in reported if outcome == "moved"]
    refused = [reason for outcome, reason in reported if outcome == "refused"]
    assert len(reported) == MOVERS * MOVES_PER_MOVER
    assert len(moved) > len(refused)  # a refused move is a typed conflict, never a silent loss
    with RemoteRegistry(namespace, cache_dir=tmp_path / "check") as reg:
        history = reg.alias_history("model", "production")
        recorded = {entry.entry_digest for entry in history}
        assert [d for d in moved if d not in recorded] == []
        tagged = reg.get_revision("model:production", with_aliases=False).digest
        assert tagged == history[0].digest  # the tag and the log head agree
    _report(
        request,
        f"{kind}: {len(moved)} of {MOVERS * MOVES_PER_MOVER} concurrent alias moves reported, all in the "
        f"history ({len(history)} entries), {len(refused)} refused as conflicts",
    )


def _report(request: pytest.FixtureRequest, line: str) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nraces: {line}")


# ---- the interleaving a registry cannot refuse, forced --------------------------------------------


class PairedWrites(FaultProxy):
    """Forwards to a registry; the first two PUTs of ``manifests/<tag>`` are held until both arrived
    and sent on in arrival order, and reads of that tag are held from then until both landed."""

    def __init__(self, upstream: str, tag: str) -> None:
        super().__init__(upstream)
        self.suffix = f"/manifests/{tag}"
        self.writes = 0
        self._both: asyncio.Event | None = None
        self._landed: list[asyncio.Event] = []

    async def _handle(self, request: Request) -> Answer:
        if not request.path.endswith(self.suffix):
            return await super()._handle(request)
        if self._both is None:  # created on the proxy's own loop
            self._both = asyncio.Event()
            self._landed = [asyncio.Event(), asyncio.Event()]
        if request.method == "PUT" and self.writes < 2:
            order = self.writes
            self.writes += 1
            if self.writes == 2:
                self._both.set()
            await asyncio.wait_for(self._both.wait(), 120)
            if order == 1:
                await self._landed[0].wait()
            answer = await super()._handle(request)
            self._landed[order].set()
            return answer
        if self._both.is_set() and request.method in ("GET", "HEAD"):
            await self._landed[1].wait()  # a read-back sees both writes
        return await super()._handle(request)


@pytest.fixture
def proxied(registry: RegistryServer, isolated_env: IsolatedEnv) -> Iterator[Callable[[str], str]]:
    """``proxied(tag)``: a namespace behind a PairedWrites proxy for ``tag`` on the test registry."""
    proxies: list[PairedWrites] = []
    prefix = registry.unique_repository("paired")

    def namespace(tag: str) -> str:
        proxy = PairedWrites(registry.host, tag).__enter__()
        proxies.append(proxy)
        return f"{proxy.host}/{prefix}"

    yield namespace
    for proxy in proxies:
        assert proxy.writes == 2  # the interleaving happened
        proxy.__exit__()


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(MSR), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_a_registry_write_overtaken_by_another_is_a_conflict(
    proxied: Callable[[str], str], tmp_path: Path
) -> None:
    namespace = proxied("1.0.0")
    sources = [write_revision_dir(tmp_path / f"rev{i}", weights=f"writer {i}\n".encode()) for i in range(2)]
    pushes = [_start("push", str(source), f"{namespace}/model:1.0.0") for source in sources]
    outcomes = sorted(_finish(p) for p in pushes)
    assert [code for code, _, _ in outcomes] == [0, 5]
    assert "already exists with different content" in outcomes[1][2]
    winner = outcomes[0][1].strip()
    assert msr("get", f"{namespace}/model:1.0.0", "--output", "json").json()["id"] == winner


def test_an_overtaken_alias_move_is_recorded_on_top_of_the_other(
    proxied: Callable[[str], str], tmp_path: Path
) -> None:
    namespace = proxied("_alias.production")
    for version in ("1.0.0", "2.0.0"):
        push(write_revision_dir(tmp_path / version, weights=version.encode()), f"{namespace}/model:{version}")
    moves = [
        _start("alias", "set", f"{namespace}/model", "production", version, "--output", "json")
        for version in ("1.0.0", "2.0.0")
    ]
    finished = [_finish(move) for move in moves]
    assert [code for code, _, _ in finished] == [0, 0], finished
    entries = [json.loads(out)["entry_digest"] for _, out, _ in finished]
    history = msr("alias", "history", f"{namespace}/model", "production", "--output", "json").json()
    assert sorted(e["entry_digest"] for e in history) == sorted(entries)  # both moves, one on the other
    assert history[1]["entry_digest"] == history[0]["previous"]
    tagged = msr("get", f"{namespace}/model:production", "--output", "json")
    assert tagged.json()["digest"] == history[0]["digest"]
    assert "warning" not in tagged.stderr


# ---- a tag moved by another tool ---------------------------------------------------------------------


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: IsolatedEnv) -> Space:
    return make_space(request, request.param)


async def _retag(space: Space, name: str, tag: str, version: str) -> None:
    """What another tool does: point ``tag`` at the manifest of ``version``, leaving the log alone."""
    async with space_target(space, name) as target:
        descriptor = await target.resolve(version)
        await target.tag(descriptor, tag)


def test_readers_warn_when_an_alias_tag_disagrees_with_its_log(space: Space, tmp_path: Path) -> None:
    digests = {
        version: push(
            write_revision_dir(tmp_path / version, weights=version.encode()), space.ref(f"model:{version}")
        )["digest"]
        for version in ("1.0.0", "2.0.0", "3.0.0")
    }
    msr("alias", "set", space.ref("model"), "production", "1.0.0")
    msr("alias", "set", space.ref("model"), "production", "2.0.0")
    assert "warning" not in msr("get", space.ref("model:production")).stderr

    asyncio.run(_retag(space, "model", "production", "3.0.0"))
    expected = (
        f"warning: alias 'production' of model disagrees with its history: its tag names {digests['3.0.0']}, "
        f"but its log says 2.0.0 ({digests['2.0.0']})"
    )
    got = msr("get", space.ref("model:production"), "--output", "json")
    assert got.json()["digest"] == digests["3.0.0"]  # what OCI tools pull, served, but loudly
    assert expected in got.stderr
    listed = msr("alias", "ls", space.ref("model"), "--output", "json")
    assert listed.json()["production"]["digest"] == digests["2.0.0"]
    assert expected in listed.stderr
    rolled = msr("rollback", space.ref("model"), "--alias", "production", "--output", "json")
    assert expected in rolled.stderr
    assert rolled.json()["digest"] == digests["1.0.0"]
    # the rollback was recorded and moved the tag: they agree again
    assert "warning" not in msr("get", space.ref("model:production")).stderr
