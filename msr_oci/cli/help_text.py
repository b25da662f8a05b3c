"""Metavars people read in ``--help``: ``PATH``, ``TEXT``, ``text|json|yaml``, nothing for a flag.

typer labels parameters with Python types (``<list[str]>``, ``<bool>`` on every flag). Every
parameter of the command tree that has no metavar of its own gets a plain one here, once, when the
app's group is built; the commands give meaningful ones (``KEY=VALUE``) where they can.
"""

from __future__ import annotations

import enum
import typing
from pathlib import Path
from typing import Any

import typer

_NAMES: dict[type, str] = {Path: "PATH", int: "INTEGER", float: "NUMBER"}


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.2x: its own type model
    found = getattr(descriptor, "choices", None) or getattr(getattr(param, "type", None), "choices", None)
    return [str(c.value if isinstance(c, enum.Enum) else c) for c in found or ()]


def _kind(param: Any) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation is None:  # click's own types (typer < 0.2x): TEXT, PATH, INTEGER, ...
        return str(getattr(getattr(param, "type", None), "name", "text")).upper()
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    return _NAMES.get(annotation, "TEXT")


def _metavar(param: Any) -> str:
    if getattr(param, "is_flag", False):
        return ""
    if param.param_type_name == "argument":
        return str(param.name).upper()
    choices = _choices(param)
    return "|".join(choices) if choices else _kind(param)


def _help_option(command: Any) -> Any:
    """The command's --help option (made on first use, then kept by the command)."""
    try:
        return command.get_help_option(typer.Context(command))
    except Exception:  # help is cosmetic: never let it break a command
        return None


def _no_type(ctx: Any = None) -> None:
    return None


def _summary(command: Any) -> str | None:
    """The first paragraph of the command's help as one line: typer's rich command list keeps a
    docstring's line breaks, which lands them mid-sentence in a table cell."""
    first = (getattr(command, "help", None) or "").strip().split("\n\n")[0]
    return " ".join(first.split()) or None


def plain_metavars(command: Any) -> None:
    """Give every parameter of ``command`` and its subcommands without a metavar a plain one, and
    every command a one-line summary for its group's command list."""
    if getattr(command, "short_help", None) is None:
        command.short_help = _summary(command)
    for param in [*command.params, _help_option(command)]:
        if param is None:
            continue
        if param.metavar is None:
            param.metavar = _metavar(param)
        if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
            # typer prints an argument's Python type (<str>, <path>) beside its name: the name says it
            param.display_type_rich = _no_type
    for subcommand in getattr(command, "commands", {}).values():
        plain_metavars(subcommand)
