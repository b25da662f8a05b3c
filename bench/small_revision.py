"""Scenarios 2 and 3: a small revision (model definition + service configuration) pushed and pulled
cold through msr-oci's Python API and the oras-py SDK in this process; then a warm fetch by digest.

Every round opens new clients (new connections) and, for msr-oci, an empty cache directory.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.harness import EXAMPLE_REVISION, BenchError
from bench.measure import Samples, rotated
from bench.oras_peer import CountingOras
from bench.report import Row

NAMESPACE = "bench-small"
PULL_NAME = "small"


class SmallRevisionBench:
    def __init__(self, scratch: Path, host: str) -> None:
        from msr_oci.revision import encode_revision
        from msr_oci.revision.loader import load_revision_dir

        self.scratch = scratch / "small"
        self.host = host
        self.namespace = f"{host}/{NAMESPACE}"
        self.revision = load_revision_dir(EXAMPLE_REVISION, name=PULL_NAME, version="1.0.0")
        self._caches = 0
        encoded = encode_revision(self.revision)
        # oras-py pushes the very bytes msr-oci pushes: config, model definition, service configuration
        self.oras_files: list[str] = []
        self.oras_config = ""
        files = self.scratch / "oras-files"
        files.mkdir(parents=True, exist_ok=True)
        for index, (descriptor, content) in enumerate(encoded.blobs):
            assert isinstance(content, bytes)
            name = "config.json" if index == 0 else (descriptor.title or f"layer-{index}")
            (files / name).write_bytes(content)
            entry = f"{files / name}:{descriptor.media_type}"
            if index == 0:
                self.oras_config = entry
            else:
                self.oras_files.append(entry)
        self.annotations = dict(encoded.manifest.annotations or {})
        self.revision_id = ""

    def _fresh_cache(self) -> Path:
        self._caches += 1
        return self.scratch / f"cache-{self._caches}"

    def _open(self, cache_dir: Path | None = None) -> Any:
        from msr_oci.registry import AsyncRemoteRegistry

        return AsyncRemoteRegistry(self.namespace, cache_dir=cache_dir or self._fresh_cache())

    async def setup(self) -> None:
        async with self._open() as registry:
            self.revision_id = await registry.create_revision(self.revision)

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # ---- contenders -------------------------------------------------------------------------------

    async def _msr_push(self, name: str) -> tuple[float, int]:
        start = time.perf_counter()
        async with self._open() as registry:
            await registry.create_revision(self.revision.model_copy(update={"name": name}))
            requests = registry.request_count
        return time.perf_counter() - start, requests

    def _oras_push(self, name: str) -> tuple[float, int]:
        start = time.perf_counter()
        peer = CountingOras(self.host)
        peer.client.push(
            target=f"{self.namespace}/{name}:1.0.0",
            files=self.oras_files,
            manifest_config=self.oras_config,
            manifest_annotations=self.annotations,
            disable_path_validation=True,
            quiet=True,
        )
        peer.close()
        return time.perf_counter() - start, peer.requests

    async def _msr_pull(self, out: Path) -> tuple[float, int]:
        start = time.perf_counter()
        async with self._open() as registry:
            await registry.pull(f"{self.namespace}/{PULL_NAME}:1.0.0", out)
            requests = registry.request_count
        return time.perf_counter() - start, requests

    def _oras_pull(self, out: Path) -> tuple[float, int]:
        start = time.perf_counter()
        peer = CountingOras(self.host)
        peer.client.pull(target=f"{self.namespace}/{PULL_NAME}:1.0.0", outdir=str(out))
        peer.close()
        return time.perf_counter() - start, peer.requests

    async def _fetch(self, cache_dir: Path) -> tuple[float, int]:
        start = time.perf_counter()
        async with self._open(cache_dir) as registry:
            fetched = await registry.fetch(self.revision_id)
            requests = registry.request_count
        seconds = time.perf_counter() - start
        if not (fetched.path / "model-definition.yaml").is_file():
            raise BenchError(f"fetch({self.revision_id}) gave no model-definition.yaml")
        return seconds, requests

    # ---- rounds -----------------------------------------------------------------------------------

    async def run(self, rounds: int) -> list[Row]:
        push = {"msr-oci API": Samples(), "oras-py SDK": Samples()}
        pull = {"msr-oci API": Samples(), "oras-py SDK": Samples()}
        cold_fetch, warm_fetch = Samples(), Samples()
        out = self.scratch / "out"
        for index in range(rounds):
            for who in rotated(list(push), index):
                name = f"push-{'msr' if who.startswith('msr') else 'oras'}-{index}"
                seconds, requests = (
                    await self._msr_push(name) if who.startswith("msr") else self._oras_push(name)
                )
                push[who].add(seconds, requests=requests)
            for who in rotated(list(pull), index):
                if who.startswith("msr"):
                    seconds, requests = await self._msr_pull(out)
                else:
                    seconds, requests = self._oras_pull(out)
                if not (out / "deployment-config.yaml").is_file():
                    raise BenchError(f"{who} pulled no deployment-config.yaml")
                pull[who].add(seconds, requests=requests)
                shutil.rmtree(out)
            cache = self._fresh_cache()
            for samples in (cold_fetch, warm_fetch):  # the first fetch fills the cache the second reads
                seconds, requests = await self._fetch(cache)
                samples.add(seconds, requests=requests)
        return self._rows(push, pull, cold_fetch, warm_fetch)

    def _rows(
        self, push: dict[str, Samples], pull: dict[str, Samples], cold: Samples, warm: Samples
    ) -> list[Row]:
        rows: list[Row] = []
        for op, samples in (("push", push), ("cold pull", pull)):
            oras_row = Row(f"small revision {op}", "oras-py SDK", samples["oras-py SDK"])
            ours = samples["msr-oci API"]
            speed = oras_row.samples.median / ours.median
            rows += [
                Row(
                    f"small revision {op}",
                    "msr-oci API",
                    ours,
                    baselines=(oras_row,),
                    target=">= 3x oras-py",
                    met=speed >= 3,
                ),
                oras_row,
            ]
        cold_row = Row("fetch by digest, cold cache", "msr-oci API", cold)
        rows.append(cold_row)
        rows.append(
            Row(
                "fetch by digest, warm cache",
                "msr-oci API",
                warm,
                baselines=(cold_row,),
                target="0 requests",
                met=all(r == 0 for r in warm.requests),
            )
        )
        return rows
