"""Rendering: rich tables for people, ``--output json|yaml`` with stable keys for programs."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


def jsonable(value: Any) -> Any:
    """Plain JSON types from pydantic models, dataclasses, datetimes and paths."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # rich honours NO_COLOR and drops styling when the stream is not a terminal
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def emit(fmt: OutputFormat, data: Any, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON or YAML, or call ``human`` for the default rendering."""
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(jsonable(data), sort_keys=False, allow_unicode=True))
    else:
        human()


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    from rich.table import Table

    grid = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        grid.add_row(*(cell_text(cell) for cell in row))
    console().print(grid)


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """A two-column ``key  value`` listing."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, cell_text(value))
    console().print(grid)


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def note(message: str, *, quiet: bool) -> None:
    """Informational text for people, on stderr so stdout stays parseable; silent with ``--quiet``."""
    if not quiet:
        console(stderr=True).print(message, markup=False)
