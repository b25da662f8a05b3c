"""Global options anywhere on the line: ``msr push DIR ref -q`` means ``msr -q push DIR ref``.

click reads a group's options only before the subcommand's name. The app's group moves every global
option found after it to the front before parsing, knowing which options of the command take a value
(so ``--description -q`` keeps ``-q`` as the description) and stopping at ``--``. A command's own
option of the same name wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from typer.core import TyperGroup

# typer's click (vendored since typer 0.2x, a dependency before) is reached through typer's own
# classes and duck typing: options are the parameters with ``opts`` and ``is_flag``


def _option_values(params: Iterable[Any]) -> dict[str, int]:
    """Every spelling of every option -> how many values follow it (0 for a flag)."""
    table: dict[str, int] = {}
    for param in params:
        if getattr(param, "param_type_name", None) != "option":
            continue
        values = 0 if param.is_flag or param.count else max(param.nargs, 1)
        for spelling in (*param.opts, *param.secondary_opts):
            table[spelling] = values
    return table


def _width(token: str, table: dict[str, int]) -> int:
    """How many tokens an option given as ``token`` spans (``--opt=value`` is one)."""
    if token.startswith("--") and "=" in token:
        return 1
    return 1 + table.get(token, 0)


def _name(token: str) -> str:
    return token.split("=", 1)[0] if token.startswith("--") else token


def hoist_global_options(group: TyperGroup, ctx: Any, args: list[str]) -> list[str]:
    """``args`` with the group's options that follow the command moved in front of it."""
    global_options = _option_values(group.params)
    start = 0
    while start < len(args) and args[start].startswith("-") and args[start] != "--":
        start += _width(args[start], global_options)
    if start >= len(args):
        return args
    command = group.get_command(ctx, args[start])
    if command is None:
        return args
    moved: list[str] = []
    kept: list[str] = []
    rest = args[start + 1 :]
    index = 0
    while index < len(rest):
        token = rest[index]
        if token == "--":
            kept += rest[index:]
            break
        own = _option_values(command.params)
        name = _name(token)
        if name in global_options and name not in own:
            width = _width(token, global_options)
            moved += rest[index : index + width]
            index += width
            continue
        width = _width(token, own) if name in own else 1
        if isinstance(command, TyperGroup) and not token.startswith("-"):
            command = command.get_command(ctx, token) or command  # a subcommand (`alias ls`)
        kept += rest[index : index + width]
        index += width
    return [*args[:start], *moved, args[start], *kept]


class GlobalOptionsGroup(TyperGroup):
    """The app's group: global options may also follow the command; help shows plain metavars."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from msr_oci.cli.help_text import plain_metavars

        plain_metavars(self)  # here, not in __init__: typer adds the completion options after it
        return super().main(*args, **kwargs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(self, ctx, args))
