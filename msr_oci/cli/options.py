"""Option types shared by several commands."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from msr_oci.cli.completion import complete_alias, complete_name, complete_ref
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
        help="Revision: NAME, NAME:VERSION, NAME:ALIAS or NAME@DIGEST, optionally with a registry host.",
        autocompletion=complete_ref,
    ),
]
NameArg = Annotated[
    str,
    typer.Argument(help="Revision NAME, optionally with a registry host.", autocompletion=complete_name),
]
#: an alias of the NAME argument before it
AliasArg = Annotated[str, typer.Argument(help="Alias name, e.g. production.", autocompletion=complete_alias)]


class TargetRelease(enum.StrEnum):
    """The Backend.AI release whose reading rules a revision is checked against."""

    head = "head"
    r26_4_3 = "26.4.3"
    r24_09 = "24.09"


Target = Annotated[
    TargetRelease,
    typer.Option(
        "--target",
        metavar="RELEASE",
        help="Check against this Backend.AI release's rules: head (default: the draft reading), "
        "26.4.3 (unknown keys, 'enable' refused; model_path and start_command required), "
        "24.09 (also: start_command only as a list).",
    ),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Treat keys Backend.AI does not read as errors (else warnings).")
]

#: ``--policy`` of the commands that check: a local file, or the repository's signed policy
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        metavar="FILE|repository",
        help="Policy to check against: a YAML file, or 'repository' for the repository's signed policy.",
    ),
]
StageOpt = Annotated[
    str | None,
    typer.Option(
        "--stage",
        metavar="STAGE",
        help="Stage (alias) whose rule applies; default: the policy's deploy_stage.",
    ),
]
