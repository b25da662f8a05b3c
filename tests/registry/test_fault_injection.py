"""A seeded randomized run of publishes, fetches and pulls through a fault-injecting proxy.

Every operation either succeeds with verified content or raises a typed ``MsrOciError``. Afterwards,
checked through a direct (non-proxied) client: every tag points to a manifest whose blobs all exist,
every successful publish is there, and the cache holds only verified blobs and whole revisions. A
second test SIGKILLs a fetching ``msr`` process mid-transfer and checks the cache it leaves behind.

``MSR_FAULT_OPS`` sets the number of operations (default 300), ``MSR_FAULT_SEED`` the seed.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faults import FaultPlan, FaultProxy, fault_counts
from registry_harness import RegistryServer

from msr_oci.errors import MsrOciError
from msr_oci.oci import Descriptor, parse_manifest
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ExtraFile, ModelServingRevision

OPS = int(os.environ.get("MSR_FAULT_OPS", "300"))
SEED = int(os.environ.get("MSR_FAULT_SEED", "20260"))
#: probability that any one request through the proxy gets a fault
FAULT_RATE = 0.08
NAMES = ("alpha", "beta", "gamma")
MSR = Path(sys.executable).parent / "msr"


def make_revision(name: str, version: str, files: dict[str, Path]) -> ModelServingRevision:
    extra = [
        ExtraFile(path=relative, source=path, digest=_file_digest(path), size=path.stat().st_size)
        for relative, path in files.items()
    ]
    return ModelServingRevision(
        name=name,
        version=version,
        model_definition={
            "models": [{"name": name, "model_path": f"/models/{name}", "service": {"port": 8000}}]
        },
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
        extra_files=extra,
    )


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Published:
    name: str
    version: str
    digest: str
    files: dict[str, bytes]


@dataclass
class Tally:
    ops: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    #: the first message of each failure type, shown in the report
    examples: dict[str, str] = field(default_factory=dict)


def _check_files(root: Path, published: Published) -> None:
    for relative, data in published.files.items():
        assert (root / relative).read_bytes() == data, f"{relative} of {published.version} differs"


def check_cache(cache_root: Path) -> int:
    """Every blob in the cache matches the digest it is named by; every revision directory is whole.
    Returns the number of blobs checked."""
    checked = 0
    blobs = cache_root / "blobs"
    for path in sorted(blobs.rglob("*")) if blobs.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        algorithm = path.parent.name
        assert hashlib.new(algorithm, path.read_bytes()).hexdigest() == path.name, f"unverified {path}"
        checked += 1
    revisions = cache_root / "revisions"
    for directory in sorted(revisions.glob("*/*")) if revisions.is_dir() else []:
        if directory.name.startswith("."):
            continue  # a staging directory, never served
        manifest_bytes = (directory / "manifest.json").read_bytes()
        algorithm = directory.parent.name
        assert hashlib.new(algorithm, manifest_bytes).hexdigest() == directory.name
        manifest = parse_manifest(manifest_bytes)
        for layer in manifest.layers:  # type: ignore[union-attr]
            title = (layer.annotations or {})["org.opencontainers.image.title"]
            data = (directory / "files" / title).read_bytes()
            assert Descriptor.from_bytes(layer.media_type, data).digest == layer.digest
    return checked


async def check_registry(host: str, repositories: list[str]) -> int:
    """Through a direct client: every tag's manifest and all the blobs it names exist. Returns tags."""
    checked = 0
    async with Registry(host) as client:
        for name in repositories:
            repo = client.repository(name)
            async for tag in repo.list_tags():
                descriptor, manifest, _ = await repo.fetch_manifest(tag)
                for needed in [manifest.config, *manifest.layers]:  # type: ignore[union-attr]
                    assert await repo.exists(needed), f"{name}:{tag} names missing blob {needed.digest}"
                assert descriptor.digest
                checked += 1
    return checked


def _report(request: pytest.FixtureRequest, title: str, lines: list[str]) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    text = "\n".join([f"\n== {title} ==", *lines])
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(text)


@pytest.mark.timeout(240)
async def test_randomized_operations_through_faults(
    registry: RegistryServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(SEED)
    namespace = f"faults{uuid.uuid4().hex[:8]}"
    plan = FaultPlan(seed=SEED, rate=FAULT_RATE, delay=0.01)
    options = RegistryOptions(retries=2, backoff=0.001, timeout=10)
    cache = tmp_path / "cache"
    published: list[Published] = []
    tally = Tally()
    with FaultProxy(registry.host, plan) as proxy:
        async with AsyncRemoteRegistry(f"{proxy.host}/{namespace}", options=options, cache_dir=cache) as reg:
            for number in range(OPS):
                kind = (
                    "publish"
                    if not published or rng.random() < 0.35
                    else rng.choice(["fetch", "pull", "get"])
                )
                tally.ops[kind] += 1
                try:
                    if kind == "publish":
                        files = {
                            f"assets/file{i}.bin": rng.randbytes(rng.randrange(1, 48 * 1024))
                            for i in range(rng.randrange(0, 3))
                        }
                        sources = tmp_path / "src" / str(number)
                        paths: dict[str, Path] = {}
                        for relative, data in files.items():
                            paths[relative] = sources / relative
                            paths[relative].parent.mkdir(parents=True, exist_ok=True)
                            paths[relative].write_bytes(data)
                        name = rng.choice(NAMES)
                        revision = make_revision(name, f"1.{number}.0", paths)
                        revision_id = await reg.create_revision(revision)
                        digest = revision_id.rsplit("@", 1)[1]
                        published.append(Published(name, revision.version, digest, files))
                    else:
                        target = rng.choice(published)
                        if kind == "fetch":
                            fetched = await reg.fetch(f"{target.name}@{target.digest}")
                            assert fetched.revision.digest == target.digest
                            _check_files(fetched.path, target)
                        elif kind == "pull":
                            destination = tmp_path / "pulled" / str(number)
                            pulled = await reg.pull(f"{target.name}@{target.digest}", destination)
                            assert pulled.digest == target.digest
                            _check_files(destination, target)
                        else:
                            got = await reg.get_revision(f"{target.name}:{target.version}")
                            assert got.digest == target.digest
                    tally.successes[kind] += 1
                except MsrOciError as exc:
                    tally.failures[type(exc).__name__] += 1
                    tally.examples.setdefault(type(exc).__name__, f"{kind}: {exc}")
            requests_sent = reg.request_count
    injected = fault_counts(plan)
    tags = await check_registry(registry.host, [f"{namespace}/{name}" for name in NAMES])
    blobs = check_cache(cache)
    # a publish that reported success is really there, with the digest it reported
    async with AsyncRemoteRegistry(f"{registry.host}/{namespace}", cache_dir=tmp_path / "direct") as direct:
        for item in published:
            assert (await direct.get_revision(f"{item.name}:{item.version}")).digest == item.digest
    _report(
        request,
        "fault injection",
        [
            f"seed {SEED}, {OPS} operations, {requests_sent} requests, fault rate {FAULT_RATE}",
            f"operations: {dict(tally.ops)}",
            f"successes:  {dict(tally.successes)}",
            f"typed failures: {dict(tally.failures)}",
            f"faults injected: {injected}",
            *(f"  e.g. {name}: {text}" for name, text in sorted(tally.examples.items())),
            f"checked afterwards: {tags} tags (all blobs present), {blobs} cached blobs (all verified)",
        ],
    )
    assert sum(tally.ops.values()) == OPS
    assert all(count > 0 for count in injected.values()), injected
    assert sum(tally.successes.values()) > OPS // 2  # retries absorb most faults
    assert published


# ---- SIGKILL mid-transfer ----------------------------------------------------------------------


def _wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.timeout(120)
async def test_sigkill_mid_fetch_leaves_only_verified_blobs(
    registry: RegistryServer, tmp_path: Path, isolated_env: object, request: pytest.FixtureRequest
) -> None:
    namespace = f"{registry.host}/kill{uuid.uuid4().hex[:8]}"
    files = {f"weights/part{i}.bin": os.urandom(2 * 1024 * 1024) for i in range(3)}
    sources: dict[str, Path] = {}
    for relative, data in files.items():
        sources[relative] = tmp_path / "src" / relative
        sources[relative].parent.mkdir(parents=True, exist_ok=True)
        sources[relative].write_bytes(data)
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as reg:
        revision_id = await reg.create_revision(make_revision("big", "1.0.0", sources))
    digest = revision_id.rsplit("@", 1)[1]
    cache = tmp_path / "cache"
    env = {**os.environ, "MSR_CACHE_DIR": str(cache)}
    # 64 KiB every 100 ms: about 3 s per 2 MiB file, so the kill lands mid-body even on a loaded machine
    with FaultProxy(registry.host, pace=0.1) as proxy:
        ref = f"{proxy.host}/{namespace.split('/', 1)[1]}/big@{digest}"
        process = subprocess.Popen(
            [str(MSR), "--quiet", "fetch", ref], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:

            def partial_blob_written() -> bool:
                return any(p.stat().st_size > 0 for p in cache.rglob("*.part") if p.is_file())

            assert _wait_for(partial_blob_written, 60), "the fetch never started writing a blob"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    leftovers = [p for p in cache.rglob("*.part")]
    assert leftovers, "the kill should have left a temporary file behind"
    checked = check_cache(cache)
    assert not list((cache / "revisions").glob("*/[!.]*")) if (cache / "revisions").is_dir() else True
    # the next fetch (direct, fast) completes the cache; the leftovers are never served
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as reg:
        fetched = await reg.fetch(f"big@{digest}")
    for relative, data in files.items():
        assert (fetched.path / relative).read_bytes() == data
    check_cache(cache)
    _report(
        request,
        "SIGKILL mid-fetch",
        [f"{len(leftovers)} temp files left by the killed process, {checked} complete blobs verified"],
    )
