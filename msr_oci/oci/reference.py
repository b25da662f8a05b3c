"""References: ``[host[:port]/]repository[:tag][@digest]`` by the distribution reference grammar.

A reference whose first path component does not look like a host (no ``.`` or ``:``, not ``localhost``)
names the local store, never Docker Hub.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from msr_oci.errors import InvalidDigest, InvalidReference
from msr_oci.oci.digest import parse_digest

# distribution/reference grammar
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_DOMAIN_COMPONENT = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$")
_IPV6 = re.compile(r"^\[[a-fA-F0-9:.%]+\]$")
_PORT = re.compile(r"^[0-9]{1,5}$")
MAX_NAME_LENGTH = 255


def is_tag(value: str) -> bool:
    return bool(_TAG.match(value))


def validate_tag(tag: str, reference: str | None = None) -> str:
    if not _TAG.match(tag):
        raise InvalidReference(
            reference if reference is not None else tag,
            f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}",
        )
    return tag


def looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


def validate_host(host: str, reference: str | None = None) -> str:
    ref = reference if reference is not None else host
    name, port = host, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise InvalidReference(ref, f"host {host!r}: unclosed '['")
        name, rest = host[: end + 1], host[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InvalidReference(ref, f"host {host!r}: unexpected {rest!r}")
            port = rest[1:]
        if not _IPV6.match(name):
            raise InvalidReference(ref, f"host {host!r} is not a valid IPv6 address")
    elif ":" in host:
        name, port = host.rsplit(":", 1)
    if port is not None and (not _PORT.match(port) or not 0 < int(port) < 65536):
        raise InvalidReference(ref, f"port {port!r} of host {host!r} must be a number 1-65535")
    if not name.startswith("["):
        for part in name.split("."):
            if not _DOMAIN_COMPONENT.match(part):
                raise InvalidReference(ref, f"host {host!r}: bad domain component {part!r}")
    return host


def validate_repository(repository: str, reference: str | None = None) -> str:
    ref = reference if reference is not None else repository
    if not repository:
        raise InvalidReference(ref, "repository name is empty")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.match(component):
            reason = f"path component {component!r} must be lowercase letters and digits"
            reason += " separated by '.', '_', '__' or '-'"
            raise InvalidReference(ref, reason)
    return repository


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 and [::1] (with or without port) default to plain HTTP."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif ":" in name:
        name = name.rsplit(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``registry`` is ``None`` for the local store."""

    repository: str
    registry: str | None = None
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, value: str) -> Reference:
        if not isinstance(value, str) or not value:
            raise InvalidReference(str(value), "empty reference")
        if any(ch.isspace() for ch in value) or "\x00" in value:
            raise InvalidReference(value, "contains whitespace or NUL")
        rest, digest = value, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            try:
                parse_digest(digest)
            except InvalidDigest as exc:
                raise InvalidReference(value, f"digest {digest!r}: {exc.message}") from None
        registry: str | None = None
        first, sep, remainder = rest.partition("/")
        if sep and looks_like_host(first):
            registry = validate_host(first, value)
            rest = remainder
        tag = None
        last_slash = rest.rfind("/")
        colon = rest.find(":", last_slash + 1)
        if colon >= 0:
            rest, tag = rest[:colon], rest[colon + 1 :]
            validate_tag(tag, value)
        validate_repository(rest, value)
        if len(rest) + (len(registry) + 1 if registry else 0) > MAX_NAME_LENGTH:
            raise InvalidReference(value, f"name is longer than {MAX_NAME_LENGTH} characters")
        return cls(repository=rest, registry=registry, tag=tag, digest=digest)

    @property
    def is_local(self) -> bool:
        return self.registry is None

    @property
    def name(self) -> str:
        """``host/repository`` (or just ``repository`` for the local store)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def reference(self) -> str | None:
        """What to resolve: the digest when present (it is authoritative), else the tag."""
        return self.digest or self.tag

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def with_tag(self, tag: str | None) -> Reference:
        return replace(self, tag=tag)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out
