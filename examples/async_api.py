"""Publish, promote and fetch a revision with the async API (msr-oci's one implementation).

    .venv/bin/python examples/async_api.py [NAMESPACE]

NAMESPACE is a registry namespace such as ``127.0.0.1:5000/serving`` or a store directory; without one,
``$MSR_REGISTRY`` or the embedded local store is used.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision.loader import load_revision_dir

EXAMPLES = Path(__file__).resolve().parent


async def main(namespace: str | None) -> None:
    async with AsyncRemoteRegistry(namespace) as registry:
        # publish two examples concurrently: blobs first, manifests last, tags on success
        revisions = [
            load_revision_dir(EXAMPLES / "custom-http-server", name="http-demo", version="1.0.0"),
            load_revision_dir(EXAMPLES / "sglang-qwen", name="qwen-chat", version="0.3.0"),
        ]
        ids = await asyncio.gather(*(registry.create_revision(r) for r in revisions))
        for revision_id in ids:
            print("published", revision_id)

        entry = await registry.set_alias("http-demo", "production", "1.0.0")
        print(f"alias production -> {entry.version} ({entry.digest})")

        for revision in await registry.list_revisions({"any": [{"alias": "production"}, {"name": "qwen-*"}]}):
            variant = revision.service_configuration.runtime_variant
            print(f"  {revision.name}:{revision.version}  {variant}  aliases={revision.aliases}")

        # what Backend.AI does: fetch by digest, verified, through the local cache
        fetched = await registry.fetch(ids[0])
        print("files in", fetched.path)
        for path in sorted(p for p in fetched.path.rglob("*") if p.is_file()):
            print("  ", path.relative_to(fetched.path))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
