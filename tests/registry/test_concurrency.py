"""16 concurrent publishers and alias movers on one repository of the real registry.

While they run, a poller checks through its own client that every alias tag resolves to a complete
revision: the manifest and every blob it names fetch and verify. Afterwards no version is missing.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest
from registry_harness import RegistryServer
from test_fault_injection import make_revision

from msr_oci.errors import MsrOciError
from msr_oci.oci.remote import Registry
from msr_oci.registry import AsyncRemoteRegistry

PUBLISHERS = 16
ALIASES = ("production", "staging")
MOVES_PER_MOVER = 12


@pytest.mark.timeout(120)
async def test_concurrent_publishers_and_alias_moves_never_expose_an_incomplete_revision(
    registry: RegistryServer, tmp_path: Path, isolated_env: object, request: pytest.FixtureRequest
) -> None:
    namespace = f"{registry.host}/conc{uuid.uuid4().hex[:8]}"
    repository = f"{namespace.split('/', 1)[1]}/model"
    published: dict[str, str] = {}  # version -> digest
    done = asyncio.Event()
    checks = 0
    #: alias moves the registry refused: distribution's filesystem driver can answer DIGEST_INVALID to
    #: concurrent PUTs of the same tag; a refused move must be a typed error and change nothing
    refused: list[str] = []

    async def move(reg: AsyncRemoteRegistry, alias: str, version: str) -> None:
        try:
            await reg.set_alias("model", alias, version)
        except MsrOciError as exc:
            refused.append(type(exc).__name__)

    async def publisher(index: int) -> None:
        source = tmp_path / "src" / str(index) / "weights.bin"
        source.parent.mkdir(parents=True)
        source.write_bytes(random.Random(index).randbytes(64 * 1024 + index))
        version = f"1.{index}.0"
        async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / f"cache{index}") as reg:
            revision_id = await reg.create_revision(make_revision("model", version, {"weights.bin": source}))
            published[version] = revision_id.rsplit("@", 1)[1]
            # every other publisher also promotes its own version at once
            if index % 2:
                await move(reg, ALIASES[(index // 2) % len(ALIASES)], version)

    async def mover(seed: int) -> None:
        rng = random.Random(seed)
        async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / f"mover{seed}") as reg:
            while not published:
                await asyncio.sleep(0.005)
            for _ in range(MOVES_PER_MOVER):
                await move(reg, rng.choice(ALIASES), rng.choice(sorted(published)))

    async def poller() -> None:
        nonlocal checks
        async with Registry(registry.host) as client:
            repo = client.repository(repository)
            while True:
                finished = done.is_set()
                tags = set()
                try:
                    tags = {tag async for tag in repo.list_tags()}
                except Exception as exc:  # the repository does not exist before the first push
                    assert "unknown" in str(exc).lower(), exc
                for alias in sorted(tags & set(ALIASES)):
                    descriptor = await repo.resolve(alias)
                    _, manifest, _ = await repo.fetch_manifest(descriptor.digest)
                    for blob in [manifest.config, *manifest.layers]:  # type: ignore[union-attr]
                        await repo.fetch_bytes(blob, max_size=1024 * 1024)  # verified while read
                    checks += 1
                if finished:
                    return
                await asyncio.sleep(0.01)

    watcher = asyncio.create_task(poller())
    await asyncio.gather(*(publisher(i) for i in range(PUBLISHERS)), *(mover(s) for s in range(2)))
    done.set()
    await watcher

    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "check") as reg:
        assert sorted(await reg.versions("model")) == sorted(published)
        for version, digest in published.items():
            assert (await reg.get_revision(f"model:{version}", with_aliases=False)).digest == digest
        current = await reg.list_aliases("model")
        assert set(current) == set(ALIASES)
        assert {entry.digest for entry in current.values()} <= set(published.values())
    assert len(published) == PUBLISHERS
    assert checks > 0
    assert len(refused) < PUBLISHERS // 2 + 2 * MOVES_PER_MOVER  # most moves go through
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"\nconcurrency: {PUBLISHERS} publishers, {2 * MOVES_PER_MOVER} extra alias moves, "
            f"{checks} alias resolutions verified complete while writing, "
            f"{len(refused)} moves refused by the registry ({sorted(set(refused))})"
        )
