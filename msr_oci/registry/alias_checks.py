"""Whether an alias's tag agrees with its log (pure): the log is msr's record, the tag what OCI tools pull.

They disagree when something other than ``AliasStore`` moved the tag (another tool, an older msr's
import or copy, a registry UI), or a writer crashed between writing the log and moving the tag.
Readers (``get NAME:ALIAS``, ``alias ls``, ``rollback``) warn loudly, naming both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from msr_oci.registry.alias_log import AliasEntry

_log = logging.getLogger("msr_oci.registry.aliases")


def disagreement(name: str, alias: str, tag_digest: str | None, head: AliasEntry) -> str | None:
    """What is wrong when the alias tag (``tag_digest``, ``None``: no tag) and the log head differ."""
    logged = head.digest if head.active else None
    if tag_digest == logged:
        return None
    says = f"its log says {head.version} ({head.digest})" if head.active else "its log says it was removed"
    tag = f"its tag names {tag_digest}" if tag_digest else "its tag is gone"
    return (
        f"alias {alias!r} of {name} disagrees with its history: {tag}, but {says}; the tag was moved "
        "outside msr (another tool, or a copy or import by an older msr) or a move was cut short. "
        "Set the alias again to record where it should point"
    )


def warn_disagreements(name: str, found: Iterable[tuple[str, str | None, AliasEntry]]) -> list[str]:
    """Log a warning for each (alias, tag digest, log head) that disagree; returns the messages."""
    messages = [m for alias, tag, head in found if (m := disagreement(name, alias, tag, head))]
    for message in messages:
        _log.warning("%s", message)
    return messages


def active_by_digest(heads: dict[str, AliasEntry]) -> dict[str, list[str]]:
    """Active aliases grouped by the digest their log says they point at."""
    grouped: dict[str, list[str]] = {}
    for alias, entry in heads.items():
        if entry.active and entry.digest:
            grouped.setdefault(entry.digest, []).append(alias)
    return grouped
