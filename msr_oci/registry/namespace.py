"""Where revisions live: a registry namespace (``host[:port][/path]``) or a local store directory.

The revision named ``fraud-detector`` lives in repository ``<namespace>/fraud-detector``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from msr_oci.errors import InvalidReference
from msr_oci.oci import Reference, looks_like_host
from msr_oci.oci.reference import validate_host, validate_repository

#: environment variable naming the default namespace when none is given
REGISTRY_ENV = "MSR_REGISTRY"
#: environment variable naming the embedded store's directory
STORE_ENV = "MSR_STORE"


def default_store_path() -> Path:
    """``$MSR_STORE``, else ``$XDG_DATA_HOME/msr-oci/store``, else ``~/.local/share/msr-oci/store``."""
    if store := os.environ.get(STORE_ENV):
        return Path(store).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec says a relative value is invalid and must be ignored
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "msr-oci" / "store"


@dataclass(frozen=True)
class Namespace:
    """A registry host and path prefix, or (``registry is None``) a local store root."""

    registry: str | None
    prefix: str = ""
    store_root: Path | None = None

    @classmethod
    def parse(cls, value: str | os.PathLike[str] | None = None) -> Namespace:
        """``None`` means ``$MSR_REGISTRY``, else the embedded local store.

        A value whose first component looks like a host (has ``.`` or ``:``, or is ``localhost``) is a
        registry namespace; anything else, and anything starting with ``/``, ``.`` or ``~``, is a path.
        """
        if value is None:
            value = os.environ.get(REGISTRY_ENV) or None
            if value is None:
                return cls(registry=None, store_root=default_store_path())
        if isinstance(value, os.PathLike):
            return cls(registry=None, store_root=Path(value))
        text = value.strip()
        if text.startswith("oci:"):
            return cls(registry=None, store_root=Path(text[4:]).expanduser())
        first, _, rest = text.partition("/")
        if text and not text.startswith(("/", ".", "~")) and looks_like_host(first):
            validate_host(first, text)
            prefix = rest.strip("/")
            if prefix:
                validate_repository(prefix, text)
            return cls(registry=first, prefix=prefix)
        if not text:
            raise InvalidReference(value, "empty namespace")
        return cls(registry=None, store_root=Path(text).expanduser())

    @property
    def is_local(self) -> bool:
        return self.registry is None

    def repository(self, name: str) -> str:
        """Repository path of the revision ``name`` in this namespace."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def name_of(self, repository: str) -> str:
        """Revision name of a repository path (its part below the namespace prefix)."""
        if self.prefix and repository.startswith(self.prefix + "/"):
            return repository[len(self.prefix) + 1 :]
        return repository.rsplit("/", 1)[-1]

    def locate(self, ref: str | Reference) -> Reference:
        """A reference made absolute in this namespace.

        ``fraud-detector:1.0`` becomes ``<host>/<prefix>/fraud-detector:1.0``; a reference that names a
        registry host is taken as it is.
        """
        parsed = ref if isinstance(ref, Reference) else Reference.parse(ref)
        if parsed.registry is not None:
            return parsed
        if self.registry is None:
            return parsed
        return Reference(
            repository=self.repository(parsed.repository),
            registry=self.registry,
            tag=parsed.tag,
            digest=parsed.digest,
        )

    def __str__(self) -> str:
        if self.registry is None:
            return str(self.store_root)
        return f"{self.registry}/{self.prefix}" if self.prefix else self.registry
