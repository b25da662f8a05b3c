"""Exceptions to one line on stderr and a documented exit code.

Exit codes come from ``MsrOciError.exit_code`` (2 bad input, 3 not found, 4 auth, 5 conflict,
6 network, 7 integrity, 8 unsupported, 9 governance refusal, 1 anything else); typer itself uses 2
for usage errors and 130 for Ctrl-C.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from msr_oci.errors import MsrOciError, Remedy

EXIT_OTHER = 1
EXIT_INPUT = 2


def _field_path(location: tuple[Any, ...]) -> str:
    """``("models", 0, "service", "port")`` -> ``models[0].service.port``."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _validation_message(exc: Any) -> str:
    problems = [f"{_field_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
    shown = "; ".join(problems[:3])
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    return f"invalid input: {shown}{more} (fix these fields and retry)"


def _is_validation_error(exc: BaseException) -> bool:
    pydantic = sys.modules.get("pydantic")  # loaded only if something validated input
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def remedy_wording(remedy: Remedy, where: str | None) -> str:
    """What a CLI user types to apply ``remedy``: the library names no flag, this is the one place."""
    version, _, alias = (where or "").partition(" ")

    wording = {
        Remedy.LOGIN: f"log in with `msr login {where or 'HOST'}`",
        Remedy.CA_FILE: "pass the registry's CA bundle with --ca-file",
        Remedy.INSECURE: "or skip verification with --insecure",
        Remedy.PLAIN_HTTP: "if it serves plain HTTP use --plain-http",
        Remedy.UPDATE: "publish new content for this version with `msr push --update`",
        Remedy.OVERWRITE: "overwrite it with --force",
        Remedy.PUBLISH: "publish one with `msr push`",
        Remedy.TO_VERSION: "give --to VERSION",
        Remedy.ALL_VERSIONS: f"to delete every version, `msr delete {where or 'NAME'} --all-versions`",
        Remedy.LIST_ARCHIVED: "`msr list --archived` lists archived revisions",
        Remedy.REPLACE_DIRECTORY: "or pass --force: it then holds exactly this revision (the rest goes)",
        Remedy.MOVE_ALIASES: "import with --force to move it (the move is recorded in its history)",
        Remedy.FORGET_ALIAS_RECORD: "if you trust the log as it is now, "
        f"`msr alias forget {where or 'NAME ALIAS'}`",
        Remedy.REPUBLISH: "to publish its files under another name or version, "
        f"`msr pull {where or 'REF'} -o DIR` then `msr push DIR NAME:VERSION`",
        Remedy.SET_ALIAS: f"then `msr promote {version or 'NAME:VERSION'} --to {alias or 'ALIAS'}`",
    }
    return wording[remedy]


def error_message(exc: MsrOciError) -> str:
    """``exc``'s message with its hint and its remedies worded as CLI flags and commands."""
    advice = exc.advice(remedy_wording)
    return f"{exc.message} ({'; '.join(advice)})" if advice else exc.message


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and the exit code for ``exc``."""

    if isinstance(exc, MsrOciError):
        return error_message(exc), exc.exit_code
    if _is_validation_error(exc):
        return _validation_message(exc), EXIT_INPUT
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}:{where} (check the path)", EXIT_INPUT
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}:{where}", EXIT_OTHER
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", EXIT_OTHER


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` to stderr (a traceback only with ``--debug``) and return the exit code."""
    message, code = describe(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    one_line = " ".join(message.split())
    print(f"error: {one_line}", file=sys.stderr)
    return code
