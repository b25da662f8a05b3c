"""Shell completion of revision names, versions and aliases from the configured store or registry.

A completion asks the store or registry the command would use (``$MSR_REGISTRY``, the embedded
store, or the namespace typed so far) and gives up silently: any error, or no answer within
``TIMEOUT_SECONDS``, completes nothing. Commands wire these in as typer ``autocompletion``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import typer

from msr_oci.cli.context import Settings

if TYPE_CHECKING:
    from msr_oci.registry import AsyncRemoteRegistry

#: a shell waits for completions: an unreachable registry must not hang the prompt
TIMEOUT_SECONDS: Final = 3.0


def _settings(ctx: typer.Context) -> Settings:
    """The global options typed so far (the app callback does not run while completing)."""
    params = ctx.find_root().params
    return Settings(
        plain_http=True if params.get("plain_http") else None,
        insecure=bool(params.get("insecure")),
        ca_file=params.get("ca_file"),
        quiet=True,
    )


def _ask(
    ctx: typer.Context, namespace: str | None, question: Callable[[AsyncRemoteRegistry], Awaitable[list[str]]]
) -> list[str]:
    settings = _settings(ctx)

    async def session() -> list[str]:
        async with settings.open(namespace) as registry:
            return await question(registry)

    logging.disable(logging.CRITICAL)  # nothing may reach the shell but the candidates
    try:
        import asyncio  # lazily: completion is rare, every msr start-up imports this module

        return asyncio.run(asyncio.wait_for(session(), TIMEOUT_SECONDS))
    except BaseException:  # a completion never fails: it offers nothing
        return []


def _split_namespace(text: str) -> tuple[str | None, str, str]:
    """``host/ns/na`` -> namespace ``host/ns``, prefix ``host/ns/``, rest ``na``; a bare ``na``
    uses the default namespace."""
    head, slash, rest = text.rpartition("/")
    return (head or None) if slash else None, f"{head}{slash}", rest


async def _names(registry: AsyncRemoteRegistry) -> list[str]:
    return await registry.list_names()


async def _tags_of(registry: AsyncRemoteRegistry, name: str) -> list[str]:
    import asyncio

    versions, aliases = await asyncio.gather(registry.versions(name), registry.list_aliases(name))
    return [*versions, *sorted(aliases)]


def complete_name(ctx: typer.Context, incomplete: str) -> list[str]:
    """Revision names in the namespace typed so far (or the default one)."""
    namespace, prefix, _ = _split_namespace(incomplete)
    names = _ask(ctx, namespace, _names)
    return [f"{prefix}{name}" for name in names if f"{prefix}{name}".startswith(incomplete)]


def complete_ref(ctx: typer.Context, incomplete: str) -> list[str]:
    """``NAME`` while the name is typed; ``NAME:VERSION`` and ``NAME:ALIAS`` after the colon."""
    namespace, prefix, rest = _split_namespace(incomplete)
    if "@" in rest:
        return []
    if ":" not in rest:
        return complete_name(ctx, incomplete)
    name = rest.partition(":")[0]

    async def tags(registry: AsyncRemoteRegistry) -> list[str]:
        return await _tags_of(registry, name)

    found = [f"{prefix}{name}:{tag}" for tag in _ask(ctx, namespace, tags)]
    return [candidate for candidate in found if candidate.startswith(incomplete)]


def _name_argument(ctx: typer.Context) -> tuple[str | None, str] | None:
    """The NAME argument typed before the one being completed, split from its namespace."""
    typed: Any = ctx.params.get("name")
    if not typed:  # parsing stops at an option still waiting for its value: NAME is left unparsed
        typed = next((arg for arg in ctx.args if not arg.startswith("-")), None)
    if not isinstance(typed, str) or not typed:
        return None
    namespace, _, name = _split_namespace(typed)
    return namespace, name.partition(":")[0].partition("@")[0]


def _of_named(
    ctx: typer.Context, incomplete: str, question: Callable[[AsyncRemoteRegistry, str], Awaitable[list[str]]]
) -> list[str]:
    """Answers about the NAME typed earlier on the line that start with ``incomplete``."""
    found = _name_argument(ctx)
    if found is None:
        return []
    namespace, name = found

    async def ask(registry: AsyncRemoteRegistry) -> list[str]:
        return await question(registry, name)

    return [answer for answer in _ask(ctx, namespace, ask) if answer.startswith(incomplete)]


async def _aliases_of(registry: AsyncRemoteRegistry, name: str) -> list[str]:
    return sorted(await registry.list_aliases(name))


def complete_version_or_alias(ctx: typer.Context, incomplete: str) -> list[str]:
    """Versions and aliases of the NAME typed earlier on the line."""
    return _of_named(ctx, incomplete, _tags_of)


def complete_alias(ctx: typer.Context, incomplete: str) -> list[str]:
    """The active aliases of the NAME typed earlier on the line."""
    return _of_named(ctx, incomplete, _aliases_of)
