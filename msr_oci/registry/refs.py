"""Names: one parser for revision references, and what each tag of a revision repository is.

A revision reference is ``[host[:port][/prefix]/]name`` followed by ``:version``, ``:alias`` or
``@sha256:...`` (or both a tag and a digest). A version may hold a semver ``+``, which tags cannot:
it is stored under the tag with ``+`` replaced by ``_`` (``1.0.0+b.5`` -> ``1.0.0_b.5``).

Tags of a revision repository (see docs/conventions.md):

* ``<version>``: a revision's version tag;
* ``<alias>``: an alias, recognised by its log ``_alias.<alias>`` (registry/alias_log.py);
* ``_...``: reserved for the registry's own records (alias logs, ``_index``, ``_policy``, archive
  records ``_archived.<hex>`` and the tags keeping archived revisions, ``_archived.<hex>.revision``);
* ``sha256-<hex>``: the referrers tag schema's fallback tags, and ``sha256-<hex>.sig`` / ``.att`` /
  ``.sbom``, cosign's, written by other tools: never versions.

Whether a version-like tag is a version also depends on what it points at: only a revision manifest
(listing.py skips the others).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from msr_oci.errors import InputError
from msr_oci.oci.reference import Reference
from msr_oci.revision.versions import DIGEST_DERIVED_TAG, check_version, tag_to_version, version_to_tag

if TYPE_CHECKING:
    from msr_oci.registry.namespace import Namespace

#: tags starting with this are the registry's own records, never versions
RESERVED_TAG_PREFIX: Final = "_"
#: the alias log of alias ``a`` lives under the tag ``_alias.a`` (registry/alias_log.py)
ALIAS_LOG_PREFIX: Final = "_alias."


@dataclass(frozen=True)
class RevisionRef:
    """A parsed revision reference.

    ``namespace`` is the ``host[:port][/prefix]`` the text names, or ``None`` for the default
    namespace; ``tag`` is the version (already mapped to its tag) or alias, ``version`` the same
    text as written (with its ``+``); ``digest`` pins content.
    """

    namespace: str | None
    name: str
    tag: str | None = None
    digest: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> RevisionRef:
        """Parse ``text``; a semver ``+`` in the version is mapped to the tag's ``_``."""
        name_part, at, digest = text.partition("@")
        slash = name_part.rfind("/")
        colon = name_part.find(":", slash + 1)
        version = None
        if colon >= 0:
            version = name_part[colon + 1 :]
            name_part = name_part[: colon + 1] + version_to_tag(version)
        ref = Reference.parse(name_part + at + digest)
        if ref.registry is None:
            return cls(None, ref.repository, ref.tag, ref.digest, version)
        parent, _, name = ref.repository.rpartition("/")
        namespace = f"{ref.registry}/{parent}" if parent else ref.registry
        return cls(namespace, name, ref.tag, ref.digest, version)

    @classmethod
    def parse_name(cls, text: str) -> RevisionRef:
        """Parse a reference that names a revision without a version, alias or digest."""
        ref = cls.parse(text)
        if ref.tag or ref.digest:
            raise InputError(f"expected a revision name, got {text!r}", hint="drop the :tag or @digest")
        return ref

    @classmethod
    def parse_versioned(cls, text: str) -> RevisionRef:
        """Parse a reference that must name a version (what a publish writes): ``[ns/]name:version``.

        The version is taken as written and checked by the publish, whose rules (SemVer unless told
        otherwise, no alias names) say more than a tag's grammar would."""
        head, slash, last = text.rpartition("/")
        name, colon, version = last.partition(":")
        if not colon or not version:
            raise InputError(
                f"{text!r} names no version", hint="write NAME:VERSION, e.g. fraud-detector:1.0.0"
            )
        located = cls.parse_name(f"{head}{slash}{name}")
        return cls(located.namespace, located.name, version_to_tag(version), None, version)

    def locate(self, namespace: Namespace) -> Reference:
        """The absolute reference: in ``namespace``, unless the text named its own registry."""
        if self.namespace is None:
            return namespace.locate(Reference(repository=self.name, tag=self.tag, digest=self.digest))
        registry, _, prefix = self.namespace.partition("/")
        repository = f"{prefix}/{self.name}" if prefix else self.name
        return Reference(repository=repository, registry=registry, tag=self.tag, digest=self.digest)

    def __str__(self) -> str:
        text = f"{self.namespace}/{self.name}" if self.namespace else self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def digest_of(revision_id: str) -> str:
    """The manifest digest of a revision id (``[host/ns/]name@sha256:...``, as the registry returns)."""
    digest = RevisionRef.parse(revision_id).digest
    if digest is None:
        raise InputError(f"{revision_id!r} is not a revision id", hint="a revision id ends in @sha256:<hex>")
    return digest


@dataclass(frozen=True)
class RepositoryTags:
    """A repository's tags sorted into versions and aliases."""

    versions: dict[str, str]  # tag -> version
    alias_names: set[str]
    #: tags that are neither versions, aliases nor the registry's own records (other tools' tags)
    foreign: tuple[str, ...] = ()


def is_version_tag(tag: str, alias_names: set[str]) -> bool:
    """Whether ``tag`` can name a version: not reserved, not an alias, not derived from a digest by
    another tool, and the tag of a valid version."""
    reserved = tag.startswith(RESERVED_TAG_PREFIX) or DIGEST_DERIVED_TAG.match(tag) is not None
    if reserved or tag in alias_names:
        return False
    try:
        check_version(tag_to_version(tag))
    except ValueError:
        return False
    return True


def classify_tags(tags: Iterable[str]) -> RepositoryTags:
    tags = list(tags)
    alias_names = {t[len(ALIAS_LOG_PREFIX) :] for t in tags if t.startswith(ALIAS_LOG_PREFIX)}
    versions = {t: tag_to_version(t) for t in tags if is_version_tag(t, alias_names)}
    foreign = tuple(
        t
        for t in tags
        if t not in versions and t not in alias_names and not t.startswith(RESERVED_TAG_PREFIX)
    )
    return RepositoryTags(versions=versions, alias_names=alias_names, foreign=foreign)
