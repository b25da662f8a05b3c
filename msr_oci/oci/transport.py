"""HTTP to one registry: pooled client, authentication, redirects, bounded retries, concurrency limit.

Redirects are followed here rather than by httpx so that ``Authorization`` never reaches another origin
(blob downloads are often redirected to object storage).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from msr_oci._version import __version__
from msr_oci.errors import AuthError, NetworkError, Remedy, TlsVerificationFailed
from msr_oci.oci.auth import Authenticator, Credentials, load_credentials
from msr_oci.oci.connections import open_client
from msr_oci.oci.reference import is_loopback_host

#: a request body: bytes, or a factory giving a fresh async stream for every attempt
Body = bytes | Callable[[], AsyncIterator[bytes]]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: also retried for reads: distribution answers 500 while another client rewrites a tag it reads
READ_RETRY_STATUSES = RETRY_STATUSES | {500}
MAX_REDIRECTS = 5
#: large downloads at once per registry (see ``slot``)
LARGE_TRANSFERS = 2
#: connections opened alongside a client's first request (a manifest, then its blobs at once)
PRECONNECT_CONNECTIONS = 4
MAX_RETRY_AFTER = 60.0
#: error bodies are read at most this far; a hostile server cannot make us buffer more
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class RegistryOptions:
    plain_http: bool | None = None  # None: loopback hosts use http, others https
    ca_file: str | None = None
    insecure: bool = False  # skip TLS verification
    http2: bool = False
    username: str | None = None  # explicit credentials win over env and config files
    password: str | None = None
    #: concurrent requests per registry: enough to hide a 10-50 ms round trip behind registry time
    max_concurrency: int = 32
    retries: int = 3
    chunk_size: int | None = None  # None: monolithic streamed PUT; an int: chunked PATCH upload
    timeout: float = 60.0
    user_agent: str = f"msr-oci/{__version__}"
    #: first backoff delay in seconds; doubles per attempt, with jitter
    backoff: float = 0.2

    def __repr__(self) -> str:
        secret = "***" if self.password else None
        return (
            f"RegistryOptions(plain_http={self.plain_http!r}, ca_file={self.ca_file!r}, "
            f"insecure={self.insecure!r}, username={self.username!r}, password={secret!r})"
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


#: cap on answers read whole outside the streaming paths (token responses are a few KiB)
MAX_SMALL_BODY = 1024 * 1024


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes of a streamed response (one past the limit shows it is over)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(parts)


#: headers that describe the body on the wire, not the (already decoded, maybe capped) body we keep
_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


async def _buffered(response: httpx.Response, limit: int) -> httpx.Response:
    """A response like ``response`` whose ``content`` is its body read up to ``limit`` bytes.

    Built through httpx's public constructor rather than by writing its private body slot; the
    streamed original is left for the caller to close.
    """
    body = (await read_capped(response, limit))[:limit]
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


async def _buffer_error_body(response: httpx.Response) -> httpx.Response:
    """The response with its (capped) error body readable as ``content``, for error mapping."""
    # an error body is small by contract; a hostile server cannot make us buffer more than the cap
    return await _buffered(response, MAX_ERROR_BODY)


async def _read_body(
    response: httpx.Response, on_error: Callable[[httpx.RequestError], NetworkError]
) -> httpx.Response:
    """Read a whole (error bodies: capped) response and close it; a broken body is a ``NetworkError``."""
    try:
        if response.status_code >= 400:
            return await _buffer_error_body(response)
        await response.aread()
        return response
    except httpx.RequestError as exc:
        raise on_error(exc) from None
    finally:
        await response.aclose()


@functools.cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying context per CA bundle, shared by every client of the process (contexts are reusable)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class Transport:
    """Every request to a registry goes through ``request`` or ``stream`` and is counted."""

    def __init__(self, host: str, options: RegistryOptions) -> None:
        self.host = host
        self.options = options
        plain = options.plain_http if options.plain_http is not None else is_loopback_host(host)
        self.plain_http = plain
        self.base_url = httpx.URL(f"{'http' if plain else 'https'}://{host}")
        # a shared context: building one (loading a CA bundle) costs ~40 ms, too much per client;
        # plain-HTTP registries get it too, for redirects to HTTPS storage
        verify: ssl.SSLContext | bool = False if options.insecure else _tls_context(options.ca_file)
        #: for connections made outside httpx (``download.py``): the same trust as the client's
        self.ssl_context = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=False)
        )
        self.client, self._preconnector = open_client(
            verify=verify,
            http2=options.http2,
            timeout=options.timeout,
            user_agent=options.user_agent,
            max_connections=max(options.max_concurrency, 1) + 2,
        )
        self._warmed = False
        self.request_count = 0
        self._slots = asyncio.Semaphore(max(options.max_concurrency, 1))
        self._large = asyncio.Semaphore(LARGE_TRANSFERS)
        # an http:// token realm is acceptable only where plain HTTP was asked for (see Authenticator)
        self.auth = Authenticator(
            host, self._credentials, self._send_counted, plain_http_chosen=options.plain_http is True
        )

    def _credentials(self) -> Credentials | None:
        if self.options.username:
            return Credentials(self.options.username, self.options.password or "")
        return load_credentials(self.host)

    @property
    def transport_name(self) -> str:
        return "plain HTTP" if self.plain_http else "HTTPS (TLS)"

    @property
    def direct_downloads(self) -> bool:
        """Whether large blobs may be fetched on connections of their own (not through an HTTP proxy)."""
        return self._preconnector is not None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A slot for a large download sent outside ``request``/``stream`` (``download.py``): one
        of the registry's request slots and one of the few large-transfer slots (each holds 16 MiB
        of buffers, so memory stays bounded however many large files a pull has)."""
        async with self._large, self._slots:
            yield

    def count_request(self) -> None:
        self.request_count += 1

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._preconnector is not None:
            await self._preconnector.aclose()

    def _warm_up(self) -> None:
        """With the first request, open the connections the fan-out after it will want (see
        ``connections.py``); HTTP/2 multiplexes one connection, so it needs none."""
        if self._warmed or self._preconnector is None or self.options.http2:
            return
        self._warmed = True
        port = self.base_url.port or (80 if self.plain_http else 443)
        count = min(max(self.options.max_concurrency, 1), PRECONNECT_CONNECTIONS)
        self._preconnector.warm(str(self.base_url.host), port, count, self.options.timeout)

    def url(self, path: str) -> httpx.URL:
        return self.base_url.join(path)

    # ---- sending ------------------------------------------------------------------------------------

    async def _send_counted(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        self.request_count += 1
        try:
            response = await self.client.send(request, stream=stream)
            if not stream:
                # small answers only (token endpoints): a hostile server cannot make us buffer more
                try:
                    # one past the cap stays, so the reader sees the answer is over it
                    response = await _buffered(response, MAX_SMALL_BODY + 1)
                finally:
                    await response.aclose()
        except httpx.RequestError as exc:
            raise self._network_error(exc, request.url) from None
        return response

    def _network_error(self, exc: httpx.RequestError, url: httpx.URL) -> NetworkError:
        text = str(exc) or exc.__class__.__name__
        tls_failure = any(word in text.upper() for word in ("SSL", "CERTIFICATE", "TLS", "WRONG_VERSION"))
        where = f"{url.host}:{url.port}" if url.port else str(url.host)
        if tls_failure:
            # a verification failure is its own type: retrying cannot fix it
            return TlsVerificationFailed(
                f"cannot reach {where} over {self.transport_name}: {text}",
                hint="TLS verification failed",
                what="TLS verification",
                where=where,
                remedies=(Remedy.CA_FILE, Remedy.INSECURE),
            )
        if isinstance(
            exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError | httpx.ReadTimeout
        ):
            # the registry was reached; the connection broke off mid-exchange
            return NetworkError(
                f"connection to {where} over {self.transport_name} broke off: {text}",
                hint="retry; if it keeps happening, check the network or proxies in between",
                where=where,
            )
        return NetworkError(
            f"cannot reach {where} over {self.transport_name}: {text}",
            hint="check the host name and that the registry is running",
            what="connection",
            where=where,
            remedies=(Remedy.PLAIN_HTTP,) if url.scheme == "https" else (),
        )

    async def _exchange(
        self, method: str, url: httpx.URL, headers: dict[str, str], body: Body | None, auth: str | None
    ) -> httpx.Response:
        """One attempt: send with auth, follow redirects (dropping auth off-origin); stream the response."""
        current, current_method, current_body = url, method, body
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = dict(headers)
            if auth and same_origin(current, self.base_url):
                request_headers["Authorization"] = auth
            content = current_body() if callable(current_body) else current_body
            request = self.client.build_request(
                current_method, current, headers=request_headers, content=content
            )
            response = await self._send_counted(request, stream=True)
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            if current_method not in ("GET", "HEAD"):
                return response  # an upload is never redirected; the caller reports the status
            await response.aclose()
            current = current.join(location)
        raise NetworkError(f"{self.host}: more than {MAX_REDIRECTS} redirects for {method} {url.path}")

    async def _attempt(
        self, method: str, url: httpx.URL, headers: dict[str, str], body: Body | None, scopes: tuple[str, ...]
    ) -> httpx.Response:
        auth = await self.auth.header_for(scopes)
        response = await self._exchange(method, url, headers, body, auth)
        if response.status_code == 401 and not same_origin(response.url, self.base_url):
            # a storage host behind a redirect or an upload Location: its challenge (and any token
            # realm it names) is not the registry's, so nothing of ours answers it
            await response.aclose()
            raise self._foreign_challenge(response.url, f"{method} {url.path}")
        if response.status_code == 401:
            new_auth = await self.auth.answer(response, scopes, auth)
            if new_auth is not None:
                await response.aclose()
                response = await self._exchange(method, url, headers, body, new_auth)
            if response.status_code == 401:
                await response.aclose()
                raise self.auth.unauthorized(f"HTTP 401 for {method} {url.path}")
        return response

    def _foreign_challenge(self, where: httpx.URL, what: str) -> AuthError:
        origin = f"{where.scheme}://{where.host}" + (f":{where.port}" if where.port else "")
        return AuthError(
            f"{origin}, reached from {self.host} for {what}, asked for credentials (HTTP 401); "
            f"msr-oci answers authentication challenges only from {self.host} itself and "
            "sent it none",
            hint="the registry's storage redirect or upload location must be usable without the "
            "registry's credentials (for example a signed URL); check the registry's storage settings",
            status=401,
        )

    async def _with_retries(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        body: Body | None,
        scopes: tuple[str, ...],
        replayable: bool,
        read_body: bool = False,
    ) -> httpx.Response:
        attempts = 1 + (max(self.options.retries, 0) if replayable else 0)
        retry_statuses = READ_RETRY_STATUSES if method in ("GET", "HEAD") else RETRY_STATUSES
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._attempt(method, url, headers, body, scopes)
                if read_body and (response.status_code not in retry_statuses or last):
                    # a body cut short is a failed attempt like a refused connection: retry it
                    response = await _read_body(response, lambda exc: self._network_error(exc, url))
            except NetworkError as exc:
                if last or not exc.retryable:
                    raise
                await asyncio.sleep(self._backoff(attempt))
                continue
            if response.status_code not in retry_statuses or last:
                return response
            delay = _retry_after(response)
            await response.aclose()
            await asyncio.sleep(self._backoff(attempt) if delay is None else delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self.options.backoff * (2**attempt), 10.0)
        return delay * random.uniform(0.5, 1.0)

    async def request(
        self,
        method: str,
        path_or_url: str | httpx.URL,
        *,
        scopes: tuple[str, ...],
        headers: dict[str, str] | None = None,
        body: Body | None = None,
        replayable: bool = True,
    ) -> httpx.Response:
        """Send and read the whole response body (for everything but content downloads).

        ``replayable=False`` marks a request that must not be sent twice (PATCH of a chunk, or a body
        from a one-shot stream); others are retried on connection errors and 429/502/503/504.
        """
        url = path_or_url if isinstance(path_or_url, httpx.URL) else self.url(path_or_url)
        self._warm_up()
        async with self._slots:
            response = await self._with_retries(
                method, url, headers or {}, body, scopes, replayable, read_body=True
            )
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...],
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response; it holds a concurrency slot until the caller is done reading."""
        self._warm_up()
        async with self._slots:
            response = await self._with_retries(method, self.url(path), headers or {}, None, scopes, True)
            try:
                if response.status_code >= 400:
                    yield await _buffer_error_body(response)
                else:
                    yield response
            except httpx.RequestError as exc:
                # the body broke off while the caller was reading it (reset, truncated, timed out)
                raise self._network_error(exc, response.url) from None
            finally:
                await response.aclose()
