"""Digests: parsing, computing in one streaming pass, verifying."""

from __future__ import annotations

import hashlib
import re
from typing import Final

from msr_oci.errors import DigestMismatch, InvalidDigest, SizeMismatch, UnsupportedDigestAlgorithm

#: algorithm -> length of its lowercase hex encoding
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha512": 128}

# image-spec: algorithm-component ([+._-] algorithm-component)* ":" [a-zA-Z0-9=_-]+
_DIGEST_SYNTAX = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


def parse_digest(digest: str) -> tuple[str, str]:
    """Split and validate ``alg:hex``; raise ``InvalidDigest`` or ``UnsupportedDigestAlgorithm``."""
    if not isinstance(digest, str) or not _DIGEST_SYNTAX.match(digest):
        raise InvalidDigest(str(digest), "expected <algorithm>:<encoded>")
    algorithm, encoded = digest.split(":", 1)
    if algorithm not in ALGORITHMS:
        raise UnsupportedDigestAlgorithm(digest)
    if len(encoded) != ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise InvalidDigest(digest, f"{algorithm} needs {ALGORITHMS[algorithm]} lowercase hex characters")
    return algorithm, encoded


def validate_digest(digest: str) -> str:
    parse_digest(digest)
    return digest


def is_digest(value: str) -> bool:
    try:
        parse_digest(value)
    except InvalidDigest:
        return False
    return True


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Digester:
    """Hashes content as it streams past; ``verify`` checks size and digest at the end."""

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in ALGORITHMS:
            raise UnsupportedDigestAlgorithm(f"{algorithm}:")
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    @classmethod
    def for_digest(cls, digest: str) -> Digester:
        algorithm, _ = parse_digest(digest)
        return cls(algorithm)

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def update_many(self, chunks: list[bytes]) -> None:
        """Several chunks in order (one call from a worker thread; hashlib releases the GIL)."""
        for chunk in chunks:
            self._hash.update(chunk)
            self.size += len(chunk)

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self._hash.hexdigest()}"

    def verify(self, expected_digest: str, expected_size: int | None = None, what: str = "content") -> None:
        if expected_size is not None and self.size != expected_size:
            raise SizeMismatch(expected_size, self.size, what)
        actual = self.digest
        if actual != expected_digest:
            raise DigestMismatch(expected_digest, actual, what)


def verify_bytes(
    data: bytes, expected_digest: str, expected_size: int | None = None, what: str = "content"
) -> None:
    digester = Digester.for_digest(expected_digest)
    digester.update(data)
    digester.verify(expected_digest, expected_size, what)
