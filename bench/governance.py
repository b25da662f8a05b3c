"""``python -m bench.governance``: what signing, approving and the deploy gate cost, against a local
``docker-registry`` (CNCF distribution 2.8: no referrers API, so the fallback tag scheme).

Measured, median of ``--rounds``: ``msr sign`` through the API (the statement is built from the layer
digests, so its cost does not grow with the files), ``model_signing``'s own signer hashing the same
files on disk (what signing a pulled directory costs), an approval, a cold and a warm gated fetch, and
the HTTP requests of each. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from bench.harness import EXAMPLE_REVISION, isolated_environment, start_plain_registry
from bench.report import MIB


def _key(directory: Path, name: str) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / f"{name}.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def _revision_dir(directory: Path, size: int) -> Path:
    directory.mkdir(parents=True)
    for source in EXAMPLE_REVISION.iterdir():
        if source.is_file():
            (directory / source.name).write_bytes(source.read_bytes())
    with (directory / "model.bin").open("wb") as fh:
        chunk = os.urandom(MIB)
        for _ in range(size // MIB):
            fh.write(chunk)
    return directory


async def _timed(
    samples: list[float], requests: list[int], registry: object, work: Awaitable[object]
) -> None:
    before = registry.request_count  # type: ignore[attr-defined]
    start = time.perf_counter()
    await work
    samples.append(time.perf_counter() - start)
    requests.append(registry.request_count - before)  # type: ignore[attr-defined]


async def _run(scratch: Path, size: int, rounds: int) -> list[tuple[str, float, float | None]]:
    import model_signing.signing

    from msr_oci.governance.bundles import KeyMaterial
    from msr_oci.governance.policy import load_policy
    from msr_oci.registry import AsyncRemoteRegistry
    from msr_oci.revision.loader import load_revision_dir

    os.environ.update(isolated_environment(scratch))
    server = start_plain_registry(scratch / "registry")
    keys = scratch / "keys"
    keys.mkdir()
    release, release_pub = _key(keys, "release")
    approver, approver_pub = _key(keys, "approver")
    indent = "\n".join("      " + line for line in release_pub.splitlines())
    indent_a = "\n".join("      " + line for line in approver_pub.splitlines())
    policy = load_policy(
        (
            f"version: 1\nsigners:\n  release:\n    public_key: |\n{indent}\n"
            f"  approver:\n    public_key: |\n{indent_a}\n"
            "stages:\n  production:\n    signatures: {signers: [release]}\n"
            "    approvals: {signers: [approver]}\n"
            "deploy_stage: production\n"
        ).encode(),
        "bench policy",
    )
    source = _revision_dir(scratch / "rev", size)
    results: dict[str, tuple[list[float], list[int]]] = {}

    def slot(name: str) -> tuple[list[float], list[int]]:
        return results.setdefault(name, ([], []))

    try:
        for index in range(rounds):
            cache = scratch / f"cache-{index}"
            async with AsyncRemoteRegistry(f"{server.host}/bench-gov", cache_dir=cache) as registry:
                revision = load_revision_dir(source, name="model", version=f"1.0.{index}")
                revision_id = await registry.create_revision(revision)
                await _timed(
                    *slot("msr sign (API)"),
                    registry,
                    registry.sign(revision_id, KeyMaterial(release)),
                )
                await _timed(
                    *slot("msr approve (API)"),
                    registry,
                    registry.approve(revision_id, "production", KeyMaterial(approver)),
                )
                await _timed(*slot("gated fetch, cold"), registry, registry.fetch(revision_id, policy=policy))
                await _timed(*slot("gated fetch, warm"), registry, registry.fetch(revision_id, policy=policy))
                await _timed(*slot("ungated fetch, warm"), registry, registry.fetch(revision_id))
                pulled = scratch / f"pulled-{index}"
                await registry.pull(revision_id, pulled)
            start = time.perf_counter()
            model_signing.signing.Config().use_elliptic_key_signer(private_key=release).sign(
                pulled, scratch / f"model-{index}.sig"
            )
            slot("model_signing sign (hashes the pulled files)")[0].append(time.perf_counter() - start)
    finally:
        server.stop()
    return [
        (name, statistics.median(seconds), statistics.median(requests) if requests else None)
        for name, (seconds, requests) in results.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.governance", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256, help="size of the revision's model file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msr-bench-gov-") as scratch:
        rows = asyncio.run(_run(Path(scratch), args.size_mib * MIB, args.rounds))
    print(f"revision: examples/vllm-llama + one {args.size_mib} MiB file; median of {args.rounds} rounds")
    print(f"{'operation':48} {'seconds':>9} {'requests':>9}")
    for name, seconds, requests in rows:
        print(f"{name:48} {seconds:9.3f} {'-' if requests is None else f'{requests:.0f}':>9}")


if __name__ == "__main__":
    main()
