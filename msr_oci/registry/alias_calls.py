"""The alias calls of ``AsyncRemoteRegistry``: set, remove, list, history, rollback, delegated to
``AliasStore`` (aliases.py; history checks: alias_history.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msr_oci.registry.alias_log import ACTION_SET, AliasEntry
from msr_oci.registry.aliases import AliasStore

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice


class AliasCalls:
    """Mixed into ``AsyncRemoteRegistry``, which provides ``aliases``."""

    aliases: AliasStore

    async def set_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        by: str | None = None,
        action: str = ACTION_SET,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Point ``alias`` at a version (or ``@sha256:...`` digest) of ``name``, recording the move.

        With ``policy``, refused (``PolicyNotSatisfied``) unless the revision meets the policy's rule
        for the alias; ``"repository"`` applies the repository's stored policy when it has one."""
        return await self.aliases.set(name, alias, version, by=by, action=action, policy=policy)

    async def remove_alias(self, name: str, alias: str, *, by: str | None = None) -> AliasEntry:
        """Remove ``alias`` (its tag), recording the removal in its log."""
        return await self.aliases.remove(name, alias, by=by)

    async def list_aliases(self, name: str) -> dict[str, AliasEntry]:
        """Active aliases of ``name`` and what each points at."""
        return await self.aliases.active(name)

    async def alias_history(self, name: str, alias: str) -> list[AliasEntry]:
        """Every move of ``alias``, newest first. Every link is checked, and the head this machine saw
        last must still be in it (``BrokenAliasLog``, ``AliasLogRewritten``: alias_history.py)."""
        return await self.aliases.history(name, alias)

    async def forget_alias_record(self, name: str, alias: str) -> bool:
        """Forget the head of ``alias``'s log this machine saw last, so the next read trusts the log
        as it is (after a rewrite of its history you have checked). Whether there was one."""
        return self.aliases.forget_record(name, alias)

    async def rollback(
        self,
        name: str,
        alias: str,
        to_version: str | None = None,
        *,
        by: str | None = None,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Move ``alias`` back to the version it held before (or to ``to_version``); ``policy`` as in
        ``set_alias``."""
        return await self.aliases.rollback(name, alias, to_version, by=by, policy=policy)
