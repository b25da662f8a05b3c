"""Option types shared by several commands."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from msr_oci.cli.output import OutputFormat

Output = Annotated[
    OutputFormat,
    typer.Option("--output", help="Output format: text (tables), json or yaml.", case_sensitive=False),
]


class SortChoice(enum.StrEnum):
    semver = "semver"
    time = "time"


RefArg = Annotated[
    str,
    typer.Argument(
        help="Revision: NAME, NAME:VERSION, NAME:ALIAS or NAME@DIGEST, optionally with a registry host."
    ),
]
NameArg = Annotated[str, typer.Argument(help="Revision NAME, optionally with a registry host.")]

#: the releases msr knows the reading rules of (msr_oci.revision.loader.TARGETS; kept literal here so the
#: CLI starts without importing the revision layer)
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        help="Check as this Backend.AI release reads the files: head (default, the draft reading), "
        "26.4.3 (strict: unknown keys and health_check.enable rejected, start_command required) or "
        "24.09 (start_command as a list only).",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Unknown keys are errors instead of warnings (with a 'did you mean')."),
]
