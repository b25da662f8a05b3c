"""Walking an alias log, every link checked, against the heads this machine saw before (alias_pins.py).

An alias log is a hash chain (alias_log.py): each entry names the digest of the one before. Walking
it checks that every entry is an entry of this alias (an entry of another alias spliced in is
refused), that every link resolves (a missing middle entry is named, with the entry that points to
it), and that the chain does not loop. A head this machine saw before must still be in the history;
when it is not, the log was rewritten (``AliasLogRewritten``).

What this protects against, and what not, is spelled out in docs/security.md ("The alias history").
"""

from __future__ import annotations

from msr_oci.errors import IntegrityError, InvalidManifest, NotFoundError, Remedy
from msr_oci.oci import Target
from msr_oci.oci.layout import OCILayout
from msr_oci.registry import alias_log
from msr_oci.registry.alias_log import AliasEntry
from msr_oci.registry.alias_pins import AliasPin, AliasPins
from msr_oci.registry.reader import RevisionReader

#: an alias log longer than this is not walked further (no real alias moves this often)
HISTORY_LIMIT = 10_000
#: how many entries back a move looks for its own entry after writing it
RECENT_MOVES = 64


class BrokenAliasLog(IntegrityError):
    """An alias log whose chain does not hold: a missing, foreign or looping entry."""


class AliasLogRewritten(IntegrityError):
    """An alias log that no longer contains a head this machine saw before."""


def location_of(target: Target) -> str:
    """Where a log lives, as pins record it: ``host/repository``, or ``oci:`` and the absolute path."""
    return f"oci:{target.path.resolve()}" if isinstance(target, OCILayout) else str(target)


def _check_head(name: str, alias: str, head: AliasEntry) -> None:
    if head.alias != alias:
        raise BrokenAliasLog(
            f"the alias log of {name}:{alias} is broken: its head {head.entry_digest} is an entry of "
            f"alias {head.alias!r}"
        )


class AliasHistory:
    def __init__(self, reader: RevisionReader, pins: AliasPins | None = None) -> None:
        self.reader = reader
        self.pins = pins or AliasPins()

    async def walk(
        self, target: Target, name: str, head: AliasEntry, *, until: str | None = None
    ) -> list[AliasEntry]:
        """``head`` and the entries before it, newest first, each checked (stop after ``until``)."""
        alias = head.alias
        entries = [head]
        seen = {head.entry_digest}
        while entries[-1].entry_digest != until and entries[-1].previous and len(entries) < HISTORY_LIMIT:
            later = entries[-1]
            digest = later.previous
            assert digest is not None
            where = f"the alias log of {name}:{alias}"
            if digest in seen:
                raise BrokenAliasLog(f"{where} loops: entry {later.entry_digest} points back to {digest}")
            try:
                _, manifest = await self.reader.manifest_by_digest(target, digest)
                entry = alias_log.decode_entry(manifest, digest)
            except NotFoundError:
                raise BrokenAliasLog(
                    f"{where} is broken: entry {digest}, the one before {later.entry_digest}, is missing",
                    hint="it was deleted or garbage-collected (untagged manifests); the history ends there",
                ) from None
            except InvalidManifest:
                raise BrokenAliasLog(
                    f"{where} is broken: {digest}, named as the entry before {later.entry_digest}, "
                    "is not an alias log entry"
                ) from None
            if entry.alias != alias:
                raise BrokenAliasLog(
                    f"{where} is broken: entry {digest}, the one before {later.entry_digest}, is an entry "
                    f"of alias {entry.alias!r}, spliced in"
                )
            seen.add(digest)
            entries.append(entry)
        return entries

    async def checked(self, target: Target, name: str, alias: str, head: AliasEntry) -> list[AliasEntry]:
        """The history from ``head``, checked, which must contain this machine's pin; ``head`` pinned."""
        _check_head(name, alias, head)
        pin = self.pins.load(location_of(target), alias)
        entries = await self.walk(target, name, head)
        if pin is not None and all(e.entry_digest != pin.entry for e in entries):
            raise self._rewritten(target, name, alias, pin, head)
        self.remember(target, alias, head)
        return entries

    async def check_extends(self, target: Target, name: str, alias: str, head: AliasEntry) -> None:
        """Before a move is appended on ``head``: the pin must be in its history (walked only as far)."""
        _check_head(name, alias, head)
        pin = self.pins.load(location_of(target), alias)
        if pin is None or pin.entry == head.entry_digest:
            return
        entries = await self.walk(target, name, head, until=pin.entry)
        if entries[-1].entry_digest != pin.entry:
            raise self._rewritten(target, name, alias, pin, head)

    async def reaches(self, target: Target, entry: AliasEntry, head: AliasEntry | None) -> bool:
        """Whether ``entry`` is ``head`` or one of the few moves before it (a move checks it wrote
        into the history, not beside it; the entries walked are immutable, so cached by digest)."""
        for _ in range(RECENT_MOVES):
            if head is None:
                return False
            if head.entry_digest == entry.entry_digest:
                return True
            if head.previous is None:
                return False
            _, manifest = await self.reader.manifest_by_digest(target, head.previous)
            head = alias_log.decode_entry(manifest, head.previous)
        return True  # far more moves than any race produces since ours: it was seen

    def remember(self, target: Target, alias: str, entry: AliasEntry) -> None:
        self.pins.save(location_of(target), alias, entry.entry_digest)

    def forget(self, target: Target, alias: str) -> bool:
        return self.pins.forget(location_of(target), alias)

    def _rewritten(
        self, target: Target, name: str, alias: str, pin: AliasPin, head: AliasEntry
    ) -> AliasLogRewritten:
        return AliasLogRewritten(
            f"the alias log of {name}:{alias} was rewritten: entry {pin.entry}, its head when this machine "
            f"read it on {pin.seen_at:%Y-%m-%d %H:%M} UTC, is not in the history of its head now "
            f"({head.entry_digest})",
            hint="someone with push rights replaced that history; this machine's record is "
            f"{self.pins.path(location_of(target), alias)}",
            where=f"{name} {alias}",
            remedies=(Remedy.FORGET_ALIAS_RECORD,),
        )
