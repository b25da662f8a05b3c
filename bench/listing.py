"""Scenario 4: ``list_revisions`` and ``list_summaries`` with a label filter over many revisions in
one repository, cold (new object, empty cache) and warm (new object, the cache the cold run filled),
against plain oras-py loops (list tags, then each manifest and config, or each manifest only: the
fair peer of summaries). Published once, straight to the registry; measured at every link
round-trip time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.harness import EXAMPLE_REVISION, BenchError
from bench.measure import Samples, rotated
from bench.oras_peer import CountingOras
from bench.report import TARGET_RTT_MS, Row

NAMESPACE = "bench-list"
NAME = "models"
TEAMS = 10
WANTED_TEAM = "team-3"
SETUP_CONCURRENCY = 32
#: the ratios to the oras-py loop the issue asks for at 10 ms RTT
COLD_TARGET = 15.0
#: where msr-oci writes a revision's labels into its manifest (msr_oci/revision/summary.py)
LABELS_ANNOTATION = "ai.backend.model-serving.labels"
WARM_TARGET = 30.0


def _team(index: int) -> str:
    return f"team-{index % TEAMS}"


class ListingBench:
    def __init__(self, scratch: Path, host: str, count: int) -> None:
        self.scratch = scratch / "listing"
        self.setup_host = host
        self.count = count
        self.expected = sum(1 for i in range(count) if _team(i) == WANTED_TEAM)
        self._caches = 0

    def _open(self, host: str, cache_dir: Path) -> Any:
        from msr_oci.registry import AsyncRemoteRegistry

        return AsyncRemoteRegistry(f"{host}/{NAMESPACE}", cache_dir=cache_dir)

    def _fresh_cache(self) -> Path:
        self._caches += 1
        return self.scratch / f"cache-{self._caches}"

    async def setup(self) -> None:
        """Publish ``count`` revisions concurrently through the API (not measured)."""
        from msr_oci.revision.loader import load_revision_dir

        base = load_revision_dir(EXAMPLE_REVISION, name=NAME, version="1.0.0")
        limit = asyncio.Semaphore(SETUP_CONCURRENCY)
        started = time.perf_counter()
        async with self._open(self.setup_host, self._fresh_cache()) as registry:

            async def publish(index: int) -> None:
                revision = base.model_copy(
                    update={"version": f"1.0.{index}", "labels": {**base.labels, "team": _team(index)}}
                )
                async with limit:
                    await registry.create_revision(revision)

            await asyncio.gather(*(publish(i) for i in range(self.count)))
        print(f"  published {self.count} revisions in {time.perf_counter() - started:.1f} s", flush=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    async def _msr_list(self, host: str, cache_dir: Path, method: str) -> tuple[float, int]:
        start = time.perf_counter()
        async with self._open(host, cache_dir) as registry:
            found = await getattr(registry, method)({"name": NAME, "labels": {"team": WANTED_TEAM}})
            requests = registry.request_count
        seconds = time.perf_counter() - start
        if len(found) != self.expected:
            raise BenchError(f"{method} found {len(found)} revisions, expected {self.expected}")
        return seconds, requests

    def _oras_loop(self, host: str, *, configs: bool) -> tuple[float, int]:
        """Each tag's manifest, and its config (``configs``) or the labels msr-oci also writes into
        the manifest's annotations (the fair peer of ``list_summaries``)."""
        start = time.perf_counter()
        peer = CountingOras(host)
        container = f"{host}/{NAMESPACE}/{NAME}"
        found = 0
        for tag in peer.client.get_tags(container):
            manifest = peer.client.get_manifest(f"{container}:{tag}")
            if configs:
                config = peer.client.get_blob(f"{container}:{tag}", manifest["config"]["digest"]).json()
                labels = config.get("labels") or {}
            else:
                labels = json.loads((manifest.get("annotations") or {}).get(LABELS_ANNOTATION, "{}"))
            if labels.get("team") == WANTED_TEAM:
                found += 1
        peer.close()
        seconds = time.perf_counter() - start
        if found != self.expected:
            raise BenchError(f"the oras-py loop found {found} revisions, expected {self.expected}")
        return seconds, peer.requests

    async def _set_index(self, present: bool) -> None:
        """Build the repository index, or take its tag away (setup, straight to the registry)."""
        from msr_oci.errors import NotFoundError
        from msr_oci.registry.repository_index import INDEX_TAG

        async with self._open(self.setup_host, self._fresh_cache()) as registry:
            if present:
                await registry.build_index(NAME)
                return
            with contextlib.suppress(NotFoundError):
                await registry.target(registry.locate(NAME)).untag(INDEX_TAG)

    async def run(self, host: str, rounds: int, rtt_ms: float) -> list[Row]:
        """The oras-py loops against msr-oci without, then with, a repository index; with the index
        both ``list_revisions`` (whole revisions) and ``list_summaries`` (``msr list``'s table)."""
        oras, oras_manifests = Samples(), Samples()
        modes: dict[tuple[bool, str], tuple[Samples, Samples]] = {
            (False, "list_revisions"): (Samples(), Samples()),
            (True, "list_revisions"): (Samples(), Samples()),
            (True, "list_summaries"): (Samples(), Samples()),
        }
        for (indexed, method), (cold, warm) in modes.items():
            await self._set_index(indexed)
            for index in range(rounds):
                for who in rotated(["msr", "oras"], index):
                    if who == "oras":
                        # the loops read tags, manifests (and configs): no index either way
                        if not indexed:
                            seconds, requests = self._oras_loop(host, configs=True)
                            oras.add(seconds, requests=requests)
                        elif method == "list_summaries":
                            seconds, requests = self._oras_loop(host, configs=False)
                            oras_manifests.add(seconds, requests=requests)
                        continue
                    cache = self._fresh_cache()
                    for samples in (cold, warm):  # the cold run fills the cache the warm run reads
                        seconds, requests = await self._msr_list(host, cache, method)
                        samples.add(seconds, requests=requests)
                    shutil.rmtree(cache, ignore_errors=True)
        scenario = f"list {self.count} revisions, label filter"
        oras_row = Row(scenario, "oras-py loop (manifests and configs)", oras, rtt_ms=rtt_ms)
        manifests_row = Row(scenario, "oras-py loop (manifests only)", oras_manifests, rtt_ms=rtt_ms)
        targeted = rtt_ms == TARGET_RTT_MS
        rows: list[Row] = []
        for (indexed, method), (cold, warm) in modes.items():
            label = "indexed" if indexed else "no index"
            peer = manifests_row if method == "list_summaries" else oras_row
            for state, samples, goal in (("cold", cold, COLD_TARGET), ("warm", warm, WARM_TARGET)):
                rows.append(
                    Row(
                        scenario,
                        f"msr-oci {method}, {label}, {state} cache",
                        samples,
                        baselines=(peer,),
                        target=f">= {goal:g}x oras-py" if targeted else "",
                        met=peer.samples.median / samples.median >= goal if targeted else None,
                        rtt_ms=rtt_ms,
                    )
                )
        return [*rows, oras_row, manifests_row]
