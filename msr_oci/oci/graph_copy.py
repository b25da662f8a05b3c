"""Copy a manifest graph between any two ``Target``s (registry <-> layout, layout <-> layout, ...).

Children go before parents and the root manifest last, so a destination never holds a manifest
whose content is missing; a node the destination already has is skipped with its whole subgraph.
Blobs stream from ``src.fetch`` into ``dst.push`` chunk by chunk, never whole in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from msr_oci.errors import InputError
from msr_oci.oci.content import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    is_manifest_media_type,
    parse_manifest,
    successors,
)
from msr_oci.oci.digest import is_digest
from msr_oci.oci.progress import events
from msr_oci.oci.remote import RemoteRepository
from msr_oci.oci.target import ProgressCallback, Target


async def copy(
    src: Target,
    dst: Target,
    reference: str,
    *,
    dst_tag: str | None = None,
    referrers: bool = False,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
) -> Descriptor:
    """Copy what ``reference`` (a tag or digest) names on ``src`` to ``dst``; returns its descriptor.

    The copy is tagged ``dst_tag``, else the source tag when ``reference`` is a tag. With
    ``referrers``, manifests referring to it (and, recursively, to those) are copied too.
    """
    root = await src.resolve(reference)
    await copy_graph(src, dst, root, concurrency=concurrency, progress=progress)
    if referrers:
        await copy_referrers(src, dst, root, concurrency=concurrency, progress=progress)
    tag = dst_tag if dst_tag is not None else (None if is_digest(reference) else reference)
    if tag is not None:
        await dst.tag(root, tag)
    return root


async def copy_graph(
    src: Target,
    dst: Target,
    root: Descriptor,
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy ``root`` and everything it reaches that ``dst`` lacks, ``concurrency`` transfers at a time."""
    await _GraphCopy(src, dst, concurrency, progress).run([root])


async def copy_successors(
    src: Target,
    dst: Target,
    manifest: ImageManifest | ImageIndex,
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy what ``manifest`` reaches that ``dst`` lacks, but not the manifest itself: for a caller
    that pushes it in a write of its own (a conditional tag), which a second PUT would only repeat."""
    await _GraphCopy(src, dst, concurrency, progress).run(successors(manifest))


async def copy_referrers(
    src: Target,
    dst: Target,
    root: Descriptor,
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy the manifests referring to ``root`` (signatures, attestations), and theirs, recursively."""
    seen = {root.digest}
    subjects = [root]
    while subjects:
        subject = subjects.pop()
        for referrer in await src.referrers(subject):
            if referrer.digest in seen:
                continue
            seen.add(referrer.digest)
            await copy_graph(src, dst, referrer, concurrency=concurrency, progress=progress)
            subjects.append(referrer)


class _GraphCopy:
    """One graph walk: each digest is copied by one task however many parents share it."""

    def __init__(self, src: Target, dst: Target, concurrency: int, progress: ProgressCallback | None) -> None:
        if concurrency < 1:
            raise InputError(f"concurrency must be at least 1, not {concurrency}")
        self.src = src
        self.dst = dst
        self.progress = progress
        # bounds requests and transfers, never the waiting of a parent on its children (no deadlock)
        self.limit = asyncio.Semaphore(concurrency)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.mount_from = _mount_source(src, dst)

    async def run(self, roots: Iterable[Descriptor]) -> None:
        try:
            await asyncio.gather(*(self._node(root) for root in roots))
        finally:
            # a failure leaves siblings running: stop them before the error reaches the caller
            for task in self.tasks.values():
                task.cancel()
            # and collect every outcome, so no task's exception goes unretrieved
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    def _already_there(self, descriptor: Descriptor) -> None:
        events(self.progress)(descriptor.size)
        events(self.progress).blob_done(descriptor, skipped=True)

    def _node(self, descriptor: Descriptor) -> asyncio.Task[None]:
        task = self.tasks.get(descriptor.digest)
        if task is None:
            task = self.tasks[descriptor.digest] = asyncio.create_task(self._copy(descriptor))
        return task

    async def _copy(self, descriptor: Descriptor) -> None:
        async with self.limit:
            if await self.dst.exists(descriptor):
                if not is_manifest_media_type(descriptor.media_type):
                    self._already_there(descriptor)
                return
        if is_manifest_media_type(descriptor.media_type):
            async with self.limit:
                data = await self.src.fetch_bytes(descriptor)
            children = successors(parse_manifest(data, descriptor.media_type))
            await asyncio.gather(*(self._node(child) for child in children))
            async with self.limit:
                await self.dst.push(descriptor, data)
            return
        async with self.limit:
            if self.mount_from is not None and await self.mount_from[0].mount(descriptor, self.mount_from[1]):
                self._already_there(descriptor)  # mounted: the registry shares it, nothing is sent
                return
            async with self.src.fetch(descriptor) as stream:
                await self.dst.push(descriptor, stream, progress=self.progress)
        events(self.progress).blob_done(descriptor, skipped=False)


def _mount_source(src: Target, dst: Target) -> tuple[RemoteRepository, str] | None:
    """``(dst, source repository)`` when a cross-repository mount can replace the transfer."""
    if (
        isinstance(src, RemoteRepository)
        and isinstance(dst, RemoteRepository)
        and src.registry.host == dst.registry.host
        and src.name != dst.name
    ):
        return dst, src.name
    return None
