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


#: width for output going to a pipe or file: wide enough that ids and digests are never cut
_PIPE_WIDTH = 400


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # rich honours NO_COLOR and drops styling when the stream is not a terminal
    width = None if stream.isatty() else _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


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

    grid = Table(title=title, box=None, header_style="bold", pad_edge=False, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell_text(cell) for cell in row))
    _print(grid)


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """A two-column ``key  value`` listing."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, cell_text(value))
    _print(grid)


def _print(renderable: Any) -> None:
    """Print to stdout without the trailing padding rich adds to table cells."""
    out = console()
    with out.capture() as captured:
        out.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


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
