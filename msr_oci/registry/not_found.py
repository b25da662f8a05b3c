"""Not-found errors in revision terms: which name, version, alias or digest is missing, and what exists.

The OCI layer says ``no tag '9.9.9'`` of a store path or ``MANIFEST_UNKNOWN``; a person asked for a
revision. When a read by reference finds nothing, one more tag list (and, for an unknown name, the
catalog) turns that into "no version 9.9.9 of fraud-detector; versions: 1.0.0, 1.1.0". Only the error
path pays for it.
"""

from __future__ import annotations

import difflib
from typing import Final

from msr_oci.errors import MsrOciError, NotFoundError, Remedy
from msr_oci.oci import Reference
from msr_oci.registry.refs import classify_tags
from msr_oci.registry.targets import Targets
from msr_oci.revision import parse_semver, tag_to_version, version_sort_key

__all__ = ["RevisionNotFound", "explain_not_found", "tags_if_known"]

#: a list in a message names at most this many (the newest versions)
_SHOWN: Final = 10
#: an unknown name is compared with at most this many names of the catalog
_CATALOG_LIMIT: Final = 1000


class RevisionNotFound(NotFoundError):
    """A revision name, version, alias or digest that does not exist (exit 3)."""


def _listed(items: list[str]) -> str:
    if len(items) <= _SHOWN:
        return ", ".join(items)
    return f"{', '.join(items[-_SHOWN:])} (the newest {_SHOWN} of {len(items)})"


def _place(ref: Reference) -> str:
    parent = ref.repository.rpartition("/")[0]
    if ref.registry is None:
        return f"the local store{f' under {parent}' if parent else ''}"
    return f"{ref.registry}/{parent}" if parent else ref.registry


async def _names_beside(targets: Targets, ref: Reference) -> list[str] | None:
    """The revision names next to ``ref``'s repository, or None when they cannot be listed."""
    parent = ref.repository.rpartition("/")[0]
    prefix = f"{parent}/" if parent else ""
    try:
        if ref.registry is None:
            repositories = targets.store().repositories()[:_CATALOG_LIMIT]
        else:
            repositories = []
            async for repository in targets.registry(ref.registry).catalog():
                repositories.append(repository)
                if len(repositories) >= _CATALOG_LIMIT:
                    break
    except MsrOciError:
        return None  # no catalog (GHCR, ECR) or no access to it
    names = (r[len(prefix) :] for r in repositories if r.startswith(prefix))
    return sorted(n for n in names if "/" not in n)


def _unknown_name(ref: Reference, name: str, names: list[str] | None) -> RevisionNotFound:
    hint = None  # the names cannot be listed here (no catalog)
    if names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else f"names: {_listed(names)}"
    elif names == []:
        hint = "nothing is published there yet"
    return RevisionNotFound(f"no revision named {name!r} in {_place(ref)}", hint=hint, where=ref.repository)


async def tags_if_known(targets: Targets, ref: Reference) -> tuple[list[str] | None, list[str] | None]:
    """The repository's tags, or None when it is not known (registries and stores list no tags for
    a repository they do not have, so an empty list is checked against the catalog); and the names
    beside it when the catalog was read."""
    tags = await targets.tags(targets.target(ref))
    if tags:
        return tags, None
    names = await _names_beside(targets, ref)
    known = names is not None and ref.repository.rpartition("/")[2] in names
    return ([] if known else None), names


async def explain_not_found(targets: Targets, ref: Reference, cause: NotFoundError) -> NotFoundError:
    """The error to raise when reading ``ref`` found nothing: ``cause`` said so in OCI terms."""
    if isinstance(cause, RevisionNotFound):
        return cause
    name = ref.repository.rpartition("/")[2]
    try:
        tags, names = await tags_if_known(targets, ref)
    except MsrOciError:
        return cause  # the registry cannot say more now: keep what it said
    if tags is None:
        return _unknown_name(ref, name, names)
    scan = classify_tags(tags)
    versions = sorted(scan.versions.values(), key=version_sort_key)
    aliases = sorted(alias for alias in scan.alias_names if alias in tags)
    exists = f"versions: {_listed(versions)}" if versions else "it has no versions (archived or deleted)"
    if aliases:
        exists += f"; aliases: {_listed(aliases)}"
    if ref.digest:
        return RevisionNotFound(f"no revision {name}@{ref.digest}; {exists}", where=ref.repository)
    if ref.tag is None:
        return RevisionNotFound(
            f"{name} has no versions (deleted or archived)", where=ref.repository, remedies=(Remedy.PUBLISH,)
        )
    wanted = tag_to_version(ref.tag)
    if parse_semver(wanted) is not None:
        return RevisionNotFound(f"no version {wanted} of {name}; {exists}", where=ref.repository)
    removed = " (it was removed)" if ref.tag in scan.alias_names else ""
    return RevisionNotFound(f"no alias {wanted!r} of {name}{removed}; {exists}", where=ref.repository)
