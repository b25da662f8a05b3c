"""Large blob downloads straight from the socket into the file, at close to disk speed.

httpx hands a body over in 64-256 KiB pieces, each copied several times on its way through h11's
buffer; for a multi-GiB blob that copying, not the network, sets the pace. Here a blob of known size
is fetched on a connection of its own with an ``asyncio.BufferedProtocol``: the kernel writes the
body into a few large reusable buffers, a worker thread hashes and writes each full buffer (hashlib
and ``os.write`` release the GIL) while the socket fills the next, and reading pauses when every
buffer is in use (memory stays bounded).

Only the plain case is taken: ``200`` with a ``Content-Length`` equal to the blob's size, after
same-origin-only credentials and redirects like ``Transport`` (``Authorization`` never leaves the
registry's origin). Anything else (``401``, an error status, a chunked body, an HTTP proxy in the
environment) returns ``False`` before a byte is written, and the caller takes the general path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from msr_oci.errors import NetworkError, SizeMismatch
from msr_oci.oci.digest import Digester
from msr_oci.oci.transport import same_origin

#: blobs at least this large take this path
DIRECT_THRESHOLD = 32 * 1024 * 1024
BUFFER_SIZE = 4 * 1024 * 1024
BUFFERS = 4
#: a response head larger than this is not a registry's
MAX_HEAD = 64 * 1024
MAX_REDIRECTS = 5


class _Fallback(Exception):
    """The answer is not the plain case: leave it to the general path."""


class _BodyProtocol(asyncio.BufferedProtocol):
    """Reads a response head, then the body into rotating buffers handed to ``filled``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.head_done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.filled: asyncio.Queue[tuple[bytearray, int] | None] = asyncio.Queue()
        self.free = [bytearray(BUFFER_SIZE) for _ in range(BUFFERS)]
        self._scratch = bytearray(MAX_HEAD)
        self._current: bytearray | None = None
        self._used = 0
        self.error: BaseException | None = None
        self.paused = False
        self._ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if not self.head_done.done():
            return memoryview(self._scratch)
        if self._current is None:
            self._current, self._used = self.free.pop(), 0
        return memoryview(self._current)[self._used :]

    def buffer_updated(self, nbytes: int) -> None:
        if not self.head_done.done():
            self.head += self._scratch[:nbytes]
            end = self.head.find(b"\r\n\r\n")
            if end >= 0:
                rest = bytes(self.head[end + 4 :])
                self.head_done.set_result(bytes(self.head[: end + 4]))
                if rest:
                    self._current, self._used = self.free.pop(), 0
                    self._current[: len(rest)] = rest
                    self._advance(len(rest))
            elif len(self.head) > MAX_HEAD:
                self._fail(NetworkError("the registry sent a response head over 64 KiB"))
            return
        self._advance(nbytes)

    def _advance(self, nbytes: int) -> None:
        assert self._current is not None
        self._used += nbytes
        if self._used == len(self._current):
            self.filled.put_nowait((self._current, self._used))
            self._current = None
            if not self.free and self.transport is not None:
                self.transport.pause_reading()  # every buffer is in use: let TCP push back
                self.paused = True

    def give_back(self, buffer: bytearray) -> None:
        self.free.append(buffer)
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def _fail(self, error: BaseException) -> None:
        self._ended = True
        self.error = error
        if not self.head_done.done():
            self.head_done.set_exception(error)
        self.filled.put_nowait(None)
        if self.transport is not None:
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.connection_lost(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ended:  # after eof_received, or a failure
            return
        self._ended = True
        if not self.head_done.done():
            self.head_done.set_exception(NetworkError(f"the connection closed before an answer: {exc}"))
        if self._current is not None and self._used:
            self.filled.put_nowait((self._current, self._used))
            self._current = None
        self.filled.put_nowait(None)


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _Fallback
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _open(
    url: httpx.URL, ssl_context: ssl.SSLContext | None, timeout: float
) -> tuple[asyncio.Transport, _BodyProtocol]:
    loop = asyncio.get_running_loop()
    port = url.port or (443 if url.scheme == "https" else 80)
    tls = ssl_context if url.scheme == "https" else None
    transport, protocol = await asyncio.wait_for(
        loop.create_connection(
            _BodyProtocol, url.host, port, ssl=tls, server_hostname=url.host if tls else None
        ),
        timeout,
    )
    return transport, protocol


def _request_head(url: httpx.URL, authorization: str | None, user_agent: str) -> bytes:
    target = url.raw_path.decode("ascii")
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {user_agent}",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def download(
    url: httpx.URL,
    *,
    origin: httpx.URL,
    authorization: str | None,
    size: int,
    digester: Digester,
    destination: Path,
    ssl_context: ssl.SSLContext | None,
    timeout: float,
    user_agent: str,
    count_request: Callable[[], None],
    progress: Callable[[int], None] | None = None,
) -> bool:
    """GET ``url`` into ``destination`` (created, written, not renamed), hashing into ``digester``.

    ``False`` (nothing written) when the answer is not a plain ``200`` of ``size`` bytes. Raises
    ``NetworkError`` when the connection breaks mid-body and ``SizeMismatch`` on a short body.
    """
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        count_request()
        try:
            transport, protocol = await _open(current, ssl_context, timeout)
        except (OSError, TimeoutError, ssl.SSLError):
            return False  # the general path reports it, with its retries
        try:
            # credentials only to the registry's own origin, never along a redirect elsewhere
            sent = authorization if same_origin(current, origin) else None
            transport.write(_request_head(current, sent, user_agent))
            try:
                head = await asyncio.wait_for(asyncio.shield(protocol.head_done), timeout)
            except (NetworkError, TimeoutError):
                return False
            try:
                status, headers = _parse_head(head)
            except _Fallback:
                return False
            location = headers.get("location")
            if status in (301, 302, 303, 307, 308) and location:
                current = current.join(location)
                continue
            plain = (
                status == 200
                and headers.get("content-length", "") == str(size)
                and "transfer-encoding" not in headers
                and headers.get("content-encoding", "identity") == "identity"
            )
            if not plain:
                return False
            await _drain_into(protocol, destination, size, digester, timeout, progress)
            return True
        finally:
            transport.close()
    return False


async def _drain_into(
    protocol: _BodyProtocol,
    destination: Path,
    size: int,
    digester: Digester,
    timeout: float,
    progress: Callable[[int], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    received = 0

    def write(view: memoryview) -> None:
        while view:
            view = view[os.write(fd, view) :]

    try:
        # one thread hashes a buffer while the other writes it, the socket filling the next meanwhile
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="msr-oci-hash") as hasher,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="msr-oci-write") as writer,
        ):
            while True:
                try:
                    item = await asyncio.wait_for(protocol.filled.get(), timeout)
                except TimeoutError:
                    raise NetworkError(f"no data for {timeout:g} s in the middle of a download") from None
                if item is None:
                    break
                buffer, used = item
                received += used
                if received > size:
                    raise SizeMismatch(size, received, "download")
                view = memoryview(buffer)[:used]
                await asyncio.gather(
                    loop.run_in_executor(hasher, digester.update, view),
                    loop.run_in_executor(writer, write, view),
                )
                view.release()
                protocol.give_back(buffer)
                if progress is not None:
                    progress(used)
        if protocol.error is not None:
            raise protocol.error
        if received < size:
            raise NetworkError(f"the connection broke off after {received} of {size} bytes")
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
