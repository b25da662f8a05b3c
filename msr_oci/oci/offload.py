"""Blocking work on large content (hashing, file reads and writes) off the event loop.

hashlib and file I/O release the GIL on large buffers, so a worker thread hashes or writes one batch
while the event loop receives or sends the next: a large blob moves at the speed of the slowest
stage instead of the sum of all of them. Small content stays on the loop (a thread costs more than
it saves there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MIB = 1024 * 1024
#: content at least this large is hashed, read and written off the loop
OFFLOAD_THRESHOLD = 4 * MIB
#: bytes handed to the worker at a time
BATCH_SIZE = 4 * MIB
#: batches submitted and not yet done before the loop waits (bounds memory: about 3 x BATCH_SIZE)
MAX_OUTSTANDING = 2


class BatchWorker:
    """Feeds chunks, in order, to ``work`` on a worker thread of its own, ``BATCH_SIZE`` at a time.

    ``feed`` returns at once unless ``MAX_OUTSTANDING`` batches are still being worked on; ``finish``
    hands over the rest and waits for everything (raising the worker's error, if any). Use as an
    ``async with`` block so the thread goes away on every path.
    """

    def __init__(self, work: Callable[[list[bytes]], object]) -> None:
        self._work = work
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="msr-oci-io")
        self._outstanding: deque[asyncio.Future[object]] = deque()
        self._batch: list[bytes] = []
        self._batched = 0

    async def __aenter__(self) -> BatchWorker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for future in self._outstanding:
            future.cancel()
        # wait for the batch the thread is on (a write to a file about to be removed, say)
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def _submit(self) -> None:
        if not self._batch:
            return
        while len(self._outstanding) >= MAX_OUTSTANDING:
            await self._outstanding.popleft()
        loop = asyncio.get_running_loop()
        self._outstanding.append(loop.run_in_executor(self._executor, self._work, self._batch))
        self._batch, self._batched = [], 0

    async def feed(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= BATCH_SIZE:
            await self._submit()

    async def finish(self) -> None:
        await self._submit()
        while self._outstanding:
            await self._outstanding.popleft()


async def read_file(path: Path, chunk_size: int = BATCH_SIZE) -> AsyncIterator[bytes]:
    """A file in chunks, each read on a worker thread while the previous one is being sent."""
    loop = asyncio.get_running_loop()
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(AttributeError, OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # read ahead generously
        pending = loop.run_in_executor(None, os.read, fd, chunk_size)
        while chunk := await pending:
            pending = loop.run_in_executor(None, os.read, fd, chunk_size)
            yield chunk
    finally:
        # a read still in flight (the consumer stopped early) must end before the descriptor closes
        with contextlib.suppress(BaseException):
            await pending
        os.close(fd)
