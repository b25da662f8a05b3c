"""The one content-store interface: a remote repository and an OCI layout are both a ``Target``.

Implementations provide the primitive operations; the helpers here (``fetch_bytes``,
``fetch_to_file``, ``fetch_manifest``) are written once on top of them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType

from msr_oci.errors import ContentTooLarge, NotFoundError, SizeMismatch, TagChanged
from msr_oci.oci.content import MAX_MANIFEST_SIZE, Descriptor, ImageIndex, ImageManifest, parse_manifest
from msr_oci.oci.digest import Digester
from msr_oci.oci.offload import OFFLOAD_THRESHOLD, BatchWorker, read_file
from msr_oci.oci.tempfiles import atomic_file

#: what ``push`` accepts: bytes in memory, a file streamed from disk, or an async stream of chunks
Content = bytes | Path | AsyncIterable[bytes]
#: called with the number of bytes just transferred
ProgressCallback = Callable[[int], None]

CHUNK_SIZE = 1024 * 1024
#: seconds a conditional tag write on a registry waits before reading the tag back, and the oldest
#: read of the tag it writes on without reading again (``Target.push_manifest_if``)
READ_BACK_DELAY = 0.05


async def iter_content(content: Content, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Yield ``content`` in chunks without ever holding a whole file in memory (a large file is read
    ahead on a worker thread)."""
    if isinstance(content, bytes):
        for start in range(0, len(content), chunk_size) or [0]:
            yield content[start : start + chunk_size]
    elif isinstance(content, Path):
        if content.stat().st_size >= OFFLOAD_THRESHOLD:
            async for chunk in read_file(content):
                yield chunk
            return
        with content.open("rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk
    else:
        async for chunk in content:
            yield chunk


async def verified_stream(
    descriptor: Descriptor, chunks: AsyncIterable[bytes], what: str = "content"
) -> AsyncIterator[bytes]:
    """Pass chunks through while hashing; raise ``IntegrityError`` on excess bytes or at a bad end.

    Every ``Target.fetch`` wraps its raw stream in this, so verification lives in one place. Large
    content is hashed on a worker thread while the next chunks arrive; chunks are passed on before
    they are hashed, and the verdict comes at the end as always.
    """
    digester = Digester.for_digest(descriptor.digest)
    what = f"{what} {descriptor.digest}"
    if descriptor.size < OFFLOAD_THRESHOLD:
        async for chunk in chunks:
            if digester.size + len(chunk) > descriptor.size:
                raise SizeMismatch(descriptor.size, digester.size + len(chunk), what)
            digester.update(chunk)
            yield chunk
    else:
        seen = 0
        async with BatchWorker(digester.update_many) as hashing:
            async for chunk in chunks:
                seen += len(chunk)
                if seen > descriptor.size:
                    raise SizeMismatch(descriptor.size, seen, what)
                await hashing.feed(chunk)
                yield chunk
            await hashing.finish()
    digester.verify(descriptor.digest, descriptor.size, what)


class Target(ABC):
    """A content-addressed store of blobs and manifests with tags (oras-go's ``Target``)."""

    #: whether ``push_manifest_if`` is an atomic compare-and-set (else approximated: see there)
    compare_and_set: bool = False

    # ---- primitives ---------------------------------------------------------------------------------

    @abstractmethod
    async def resolve(self, reference: str) -> Descriptor:
        """Descriptor of the manifest a tag or digest names; ``NotFoundError`` if none."""

    @abstractmethod
    def fetch(self, descriptor: Descriptor) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Stream content in chunks; the stream raises ``IntegrityError`` at its end if it does not verify."""

    @abstractmethod
    async def exists(self, descriptor: Descriptor) -> bool: ...

    @abstractmethod
    async def push(
        self, descriptor: Descriptor, content: Content, *, progress: ProgressCallback | None = None
    ) -> None:
        """Store content (a blob, or a manifest by its media type); it is verified against ``descriptor``."""

    @abstractmethod
    async def tag(self, descriptor: Descriptor, tag: str) -> None:
        """Point ``tag`` at the manifest ``descriptor`` (which must exist)."""

    @abstractmethod
    async def untag(self, tag: str) -> None:
        """Remove a tag; the manifest it pointed to stays."""

    @abstractmethod
    async def delete(self, descriptor: Descriptor) -> None:
        """Delete a manifest (and every tag on it) or a blob."""

    @abstractmethod
    def list_tags(self, *, last: str | None = None) -> AsyncIterator[str]:
        """Tags in lexical order, after ``last`` if given."""

    @abstractmethod
    async def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``subject``."""

    async def aclose(self) -> None:  # noqa: B027 (an optional hook, a no-op by default)
        """Release connections or locks."""

    async def check_deletable(self) -> None:  # noqa: B027 (an optional hook, a no-op by default)
        """Raise ``DeletionDisabled`` if this store refuses to delete, before anything changes
        (a registry may have deletion switched off; a layout on disk always deletes)."""

    def expect_push(self) -> None:  # noqa: B027 (an optional hook, a no-op by default)
        """A push follows: a store that authenticates asks for push rights up front."""

    async def __aenter__(self) -> Target:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---- helpers written once over the primitives --------------------------------------------------

    async def push_manifest(
        self,
        descriptor: Descriptor,
        data: bytes,
        tag: str | None = None,
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Push a manifest and optionally tag it (remotes do both in one request). ``before_retry``
        runs before a write refused for a transient reason is sent again (it may raise to stop)."""
        await self.push(descriptor, data)
        if tag is not None:
            await self.tag(descriptor, tag)

    async def push_manifest_if(
        self,
        descriptor: Descriptor,
        data: bytes,
        tag: str,
        *,
        expected: str | None,
        read_at: float | None = None,
    ) -> None:
        """Push a manifest tagged ``tag``, unless another writer moved ``tag`` away from ``expected``
        (the digest the caller read it at, ``read_at`` by the event loop's clock; ``None``: no such
        tag): then ``TagChanged`` naming what the tag holds instead.

        A registry offers no conditional write, so here it is approximated: the tag is read again
        first when the caller's read is older than ``READ_BACK_DELAY``, then written, then read back
        after at least that delay (and twice the write's round trip). ``TagChanged`` when another
        writer's write landed after ours: that one stands, so of writers racing from the same state
        one is told it won. Unseen only: a write from a read older than ours that lands after our
        read-back, which takes a stall of the other writer longer than the delay. Stores that can
        compare and set atomically override this (``OCILayout``).
        """
        loop = asyncio.get_running_loop()

        async def still_expected() -> None:
            current = await self.tag_digest(tag)
            if current != expected:
                raise TagChanged(str(self), tag, current)

        if read_at is None or loop.time() - read_at > READ_BACK_DELAY:
            await still_expected()
        started = loop.time()
        # a retried write is a later write: before_retry checks again first
        await self.push_manifest(descriptor, data, tag=tag, before_retry=still_expected)
        await asyncio.sleep(max(READ_BACK_DELAY, 2 * (loop.time() - started)))
        current = await self.tag_digest(tag)
        if current != descriptor.digest:
            raise TagChanged(str(self), tag, current)

    async def tag_digest(self, tag: str) -> str | None:
        """The digest ``tag`` names now, or ``None`` when there is no such tag."""
        try:
            return (await self.resolve(tag)).digest
        except NotFoundError:
            return None

    async def fetch_bytes(self, descriptor: Descriptor, max_size: int = MAX_MANIFEST_SIZE) -> bytes:
        """Whole content in memory, verified; for manifests and small blobs only."""
        if descriptor.size > max_size:
            raise ContentTooLarge(f"content {descriptor.digest} ({descriptor.size} bytes)", max_size)
        parts: list[bytes] = []
        async with self.fetch(descriptor) as stream:
            async for chunk in stream:
                parts.append(chunk)
        return b"".join(parts)

    async def fetch_manifest(self, reference: str) -> tuple[Descriptor, ImageManifest | ImageIndex, bytes]:
        """Resolve a tag or digest and fetch the manifest it names, verified and parsed."""
        descriptor = await self.resolve(reference)
        data = await self.fetch_bytes(descriptor)
        return descriptor, parse_manifest(data, descriptor.media_type), data

    async def fetch_to_file(
        self, descriptor: Descriptor, path: Path, *, progress: ProgressCallback | None = None
    ) -> None:
        """Download to ``path`` through a temporary file in the same directory; rename only once verified."""
        with atomic_file(path) as fh:
            # ``fetch`` streams verify as they end, so a bad download raises before the rename
            async with self.fetch(descriptor) as stream:
                if descriptor.size < OFFLOAD_THRESHOLD:
                    async for chunk in stream:
                        fh.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
                else:
                    async with BatchWorker(fh.writelines) as writing:  # written off the loop
                        async for chunk in stream:
                            await writing.feed(chunk)
                            if progress is not None:
                                progress(len(chunk))
                        await writing.finish()
