"""The oras-py SDK as an in-process peer: a new client (and connection pool) per use, requests counted."""

from __future__ import annotations

from typing import Any


class CountingOras:
    """An oras-py client on a new ``requests`` session, counting the responses it receives."""

    def __init__(self, host: str) -> None:
        import oras.client

        self.client = oras.client.OrasClient(hostname=host, insecure=True)
        self.requests = 0
        self.client.session.hooks["response"].append(self._count)

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.requests += 1

    def close(self) -> None:
        self.client.session.close()
