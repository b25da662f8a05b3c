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

#: ``--policy`` of the commands that check: a local file, or the repository's signed policy
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="Policy to check against: a YAML file, or 'repository' for the repository's signed policy.",
    ),
]
StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="Stage (alias) whose rule applies; default: the policy's deploy_stage."),
]
