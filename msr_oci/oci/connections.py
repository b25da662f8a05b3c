"""The HTTP client a ``Transport`` sends with: connections opened ahead of need, large reads.

A registry far away charges a round trip for every new TCP connection. A pull asks for one manifest
and then for every blob at once, so a cold client would open those connections only after the
manifest arrived: one round trip more. ``Preconnector`` opens a few connections alongside the first
request; the fan-out then finds them ready (what browsers do for a page's first resources).

Reads ask the socket for up to 1 MiB at a time (httpcore asks for 64 KiB): a blob body then costs a
few thousand trips through the HTTP layers per GiB instead of 16,000.

When the environment names an HTTP proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``), httpx's own
client is used unchanged, so the proxy is honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

#: bytes asked of the socket per read
READ_SIZE = 1024 * 1024
#: a connection opened ahead of need and still unused after this long is closed, not handed out
PRECONNECT_MAX_AGE = 10.0


class _LargeReads(httpcore.AsyncNetworkStream):
    """A network stream that reads up to ``READ_SIZE`` whatever smaller amount httpcore asks for."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max(max_bytes, READ_SIZE), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _LargeReads(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class Preconnector(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, plus TCP connections opened ahead of need (``warm``)."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._ready: dict[tuple[str, int], list[tuple[float, asyncio.Task[httpcore.AsyncNetworkStream]]]] = {}

    def warm(self, host: str, port: int, count: int, timeout: float | None) -> None:
        """Start opening ``count`` connections to ``host:port`` (in the background)."""
        queue = self._ready.setdefault((host, port), [])
        now = time.monotonic()
        for _ in range(count):
            task = asyncio.ensure_future(self._backend.connect_tcp(host, port, timeout=timeout))
            queue.append((now, task))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        queue = self._ready.get((host, port), [])
        while queue and local_address is None and not socket_options:
            opened_at, task = queue.pop(0)
            if time.monotonic() - opened_at > PRECONNECT_MAX_AGE:
                await _discard(task)
                continue
            try:
                return _LargeReads(await task)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError):
                continue  # the normal path below reports the failure, with its own timeout
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _LargeReads(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover (registries are reached over TCP)
        return await self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)

    async def aclose(self) -> None:
        """Close every connection opened ahead and never handed out."""
        queues, self._ready = list(self._ready.values()), {}
        for queue in queues:
            for _, task in queue:
                await _discard(task)


async def _discard(task: asyncio.Task[httpcore.AsyncNetworkStream]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        stream = await task
        await stream.aclose()


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's transport (request and error mapping) over a pool that connects through a
    ``Preconnector``; the pool is all httpx's ``__init__`` would set up."""

    def __init__(
        self, network: Preconnector, *, verify: ssl.SSLContext | bool, http2: bool, limits: httpx.Limits
    ) -> None:
        ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=network,
        )


def environment_proxies() -> bool:
    """Whether the environment names a proxy for HTTP(S) (httpx would then route through it)."""
    return any(key in ("http", "https", "all") for key in urllib.request.getproxies())


def open_client(
    *, verify: ssl.SSLContext | bool, http2: bool, timeout: float, user_agent: str, max_connections: int
) -> tuple[httpx.AsyncClient, Preconnector | None]:
    """The pooled client for one registry, and its preconnector (None when a proxy is configured)."""
    limits = httpx.Limits(max_connections=max_connections)
    common: dict[str, Any] = {
        "timeout": timeout,
        "follow_redirects": False,
        "headers": {"User-Agent": user_agent},
    }
    if environment_proxies():
        return httpx.AsyncClient(http2=http2, verify=verify, limits=limits, **common), None
    network = Preconnector()
    transport = _Transport(network, verify=verify, http2=http2, limits=limits)
    return httpx.AsyncClient(transport=transport, **common), network
