"""Bearer tokens shared by every client of the process, fetched once per scope.

A registry far away charges a round trip per token request, so tokens outlive the ``Registry`` object
that fetched them: another client of the same process (another ``AsyncRemoteRegistry``, the sync
facade, a second command in one program) reuses them until they expire. A token is reused for any
request whose scopes it covers (a ``pull,push`` token serves pulls; a token asked for several
repositories serves each of them). Requests that need the same scopes at the same time share one
token request.

Tokens are keyed by token server (realm, service) and by a hash of the credentials they were
obtained with, so a token never serves another identity. Nothing here is ever printed or logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

#: tokens kept per (token server, identity); the oldest go first
MAX_TOKENS_PER_KEY = 256

#: (realm, service, identity hash)
TokenKey = tuple[str, str, str]


def identity(*secrets: str | None) -> str:
    """A one-way fingerprint of credentials (never the credentials themselves)."""
    joined = "\0".join(s or "" for s in secrets)
    return hashlib.sha256(joined.encode()).hexdigest()


def scope_atoms(scopes: Iterable[str]) -> frozenset[str]:
    """``repository:a:pull,push`` -> {``repository:a:pull``, ``repository:a:push``}.

    A token covers a request when the request's atoms are a subset of the token's."""
    atoms: set[str] = set()
    for scope in scopes:
        for part in scope.split(" "):
            resource, sep, actions = part.rpartition(":")
            if sep and resource:
                atoms.update(f"{resource}:{action}" for action in actions.split(",") if action)
    return frozenset(atoms)


@dataclass(frozen=True)
class Token:
    value: str
    atoms: frozenset[str]
    expires_at: float  # time.monotonic()


class TokenStore:
    def __init__(self) -> None:
        self._tokens: dict[TokenKey, list[Token]] = {}
        self._lock = threading.Lock()
        # in-flight token requests, per event loop (a future belongs to one loop)
        self._pending: dict[tuple[TokenKey, frozenset[str], int], asyncio.Future[Token]] = {}

    def find(self, key: TokenKey, atoms: frozenset[str]) -> Token | None:
        """An unexpired token covering ``atoms``."""
        now = time.monotonic()
        with self._lock:
            for token in reversed(self._tokens.get(key, [])):
                if token.expires_at > now and atoms <= token.atoms:
                    return token
        return None

    def discard(self, key: TokenKey, value: str) -> None:
        """Forget a token the registry refused."""
        with self._lock:
            kept = [t for t in self._tokens.get(key, []) if t.value != value]
            self._tokens[key] = kept

    def _keep(self, key: TokenKey, token: Token) -> None:
        now = time.monotonic()
        with self._lock:
            kept = [t for t in self._tokens.get(key, []) if t.expires_at > now]
            kept.append(token)
            self._tokens[key] = kept[-MAX_TOKENS_PER_KEY:]

    async def get(self, key: TokenKey, atoms: frozenset[str], fetch: Callable[[], Awaitable[Token]]) -> Token:
        """A token covering ``atoms``: cached, joined with a request already under way, or fetched."""
        found = self.find(key, atoms)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        for (pending_key, pending_atoms, pending_loop), under_way in list(self._pending.items()):
            if pending_key == key and pending_loop == id(loop) and atoms <= pending_atoms:
                return await asyncio.shield(under_way)
        slot = (key, atoms, id(loop))
        future: asyncio.Future[Token] = loop.create_future()
        self._pending[slot] = future
        try:
            token = await fetch()
        except BaseException as exc:
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved here: waiters get it, nobody is warned about it
            else:
                future.cancel()
            raise
        else:
            self._keep(key, token)
            future.set_result(token)
            return token
        finally:
            self._pending.pop(slot, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


#: the one store of the process
TOKENS = TokenStore()


@dataclass(frozen=True)
class HostScheme:
    """What a registry's ``401`` asked for: ``basic``, or ``bearer`` with its token server."""

    scheme: str
    realm: str | None = None
    service: str | None = None


#: per registry host, learned from its challenges: a new client sends the right header at once
SCHEMES: dict[str, HostScheme] = {}
