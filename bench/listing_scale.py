"""Scenario ``list10k``: a label filter over 10,000 versions of one name, with the (sharded)
repository index, cold and warm; the issue's goal is under 2 s at 10 ms RTT.

No peer row: the oras-py loop reads a manifest and a config per version, 20,000 sequential requests
(over 200 s at 10 ms), so it is left out rather than run. Setup pushes the revisions straight through
the generic OCI layer (config and manifest per version, the documents shared): ``create_revision``
reads the whole tag list before each publish, which at 10,000 tags is setup cost, not the subject.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from bench.harness import EXAMPLE_REVISION, BenchError
from bench.measure import Samples
from bench.report import TARGET_RTT_MS, Row

NAMESPACE = "bench-scale"
NAME = "models"
TEAMS = 10
WANTED_TEAM = "team-3"
#: a second, selective label: one version in COHORTS carries each value
COHORTS = 100
WANTED_COHORT = "c-42"
SETUP_CONCURRENCY = 32
#: the issue's bound for a cold filtered listing of 10,000 versions at 10 ms RTT
TARGET_SECONDS = 2.0


class ScaleListingBench:
    def __init__(self, scratch: Path, host: str, count: int) -> None:
        self.scratch = scratch / "listing-scale"
        self.setup_host = host
        self.count = count
        self.filters = {
            "1 in 10 matches": ({"team": WANTED_TEAM}, sum(1 for i in range(count) if i % TEAMS == 3)),
            "1 in 100 matches": (
                {"cohort": WANTED_COHORT},
                sum(1 for i in range(count) if i % COHORTS == 42),
            ),
        }
        self._caches = 0

    def _fresh_cache(self) -> Path:
        self._caches += 1
        return self.scratch / f"cache-{self._caches}"

    def _open(self, host: str, cache_dir: Path) -> Any:
        from msr_oci.registry import AsyncRemoteRegistry

        return AsyncRemoteRegistry(f"{host}/{NAMESPACE}", cache_dir=cache_dir)

    async def setup(self) -> None:
        """Push ``count`` revisions (shared documents, a config and a manifest each), then index them."""
        from msr_oci.revision.codec import encode_revision
        from msr_oci.revision.loader import load_revision_dir

        base = load_revision_dir(EXAMPLE_REVISION, name=NAME, version="1.0.0")
        limit = asyncio.Semaphore(SETUP_CONCURRENCY)
        started = time.perf_counter()
        async with self._open(self.setup_host, self._fresh_cache()) as registry:
            target = registry.target(registry.locate(NAME))
            shared = encode_revision(base).blobs[1:]  # the documents: the same bytes in every version
            for descriptor, content in shared:
                await target.push(descriptor, content)

            async def publish(index: int) -> None:
                revision = base.model_copy(
                    update={
                        "version": f"1.0.{index}",
                        "labels": {
                            **base.labels,
                            "team": f"team-{index % TEAMS}",
                            "cohort": f"c-{index % COHORTS}",
                        },
                    }
                )
                encoded = encode_revision(revision)
                config, content = encoded.blobs[0]
                async with limit:
                    await target.push(config, content)
                    await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=f"1.0.{index}")

            await asyncio.gather(*(publish(i) for i in range(self.count)))
            indexed = await registry.build_index(NAME)
        if indexed != self.count:
            raise BenchError(f"indexed {indexed} versions, expected {self.count}")
        seconds = time.perf_counter() - started
        print(f"  pushed and indexed {self.count} revisions in {seconds:.1f} s", flush=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    async def _list(self, registry: Any, labels: dict[str, str], expected: int) -> tuple[float, int]:
        start = time.perf_counter()
        before = registry.request_count
        found = await registry.list_revisions({"name": NAME, "labels": labels})
        seconds = time.perf_counter() - start
        if len(found) != expected:
            raise BenchError(f"list_revisions found {len(found)} revisions, expected {expected}")
        return seconds, registry.request_count - before

    async def run(self, host: str, rounds: int, rtt_ms: float) -> list[Row]:
        targeted = rtt_ms == TARGET_RTT_MS
        rows = []
        for selectivity, (labels, expected) in self.filters.items():
            cold, warm = Samples(), Samples()
            for _ in range(rounds):
                cache = self._fresh_cache()
                for samples in (cold, warm):  # new objects; the cold run fills the cache the warm one reads
                    async with self._open(host, cache) as registry:
                        seconds, requests = await self._list(registry, labels, expected)
                    samples.add(seconds, requests=requests)
                shutil.rmtree(cache)
            scenario = f"list {self.count} revisions, label filter, {selectivity}"
            for state, samples in (("cold", cold), ("warm", warm)):
                rows.append(
                    Row(
                        scenario,
                        f"msr-oci API, indexed, {state} cache",
                        samples,
                        target=f"< {TARGET_SECONDS:g} s" if targeted else "",
                        met=samples.median < TARGET_SECONDS if targeted else None,
                        rtt_ms=rtt_ms,
                    )
                )
        return rows
