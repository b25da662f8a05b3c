"""Typed errors of the revision layer (subclasses of the OCI layer's categories)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from msr_oci.errors import InputError, InvalidManifest

__all__ = [
    "ImmutableRecord",
    "InvalidRevision",
    "InvalidRevisionRecord",
    "NotARevision",
    "Problem",
    "RevisionInputError",
]


class ImmutableRecord(InputError, AttributeError):
    """A field of a revision (or of one of its parts) was assigned: records are immutable."""


@dataclass(frozen=True)
class Problem:
    """One finding about a revision directory: where it is and what to do about it."""

    file: str
    message: str
    field: str | None = None
    line: int | None = None
    severity: Literal["error", "warning"] = "error"
    hint: str | None = None

    def location(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}" if self.field else where

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class RevisionInputError(InputError):
    """A revision directory or record is malformed; names the file, the field path and the line."""

    def __init__(self, problem: Problem, *, problems: list[Problem] | None = None) -> None:
        super().__init__(f"{problem.location()}: {problem.message}", hint=problem.hint)
        self.problem = problem
        self.file = problem.file
        self.field = problem.field
        self.line = problem.line
        #: every error found, the first of which is this exception's message
        self.problems = problems or [problem]


class NotARevision(InputError):
    """The manifest is valid OCI content but not a model serving revision."""


class InvalidRevisionRecord(InvalidManifest):
    """A revision artifact whose config record or layers do not hold together."""


class InvalidRevision(InputError):
    """A revision record that does not validate (built through the API, or read back): names the
    first field and why; ``errors()`` lists them all (pydantic's error dicts)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {"loc": (), "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"]) or "revision"
        super().__init__(
            f"invalid revision: {where}: {first['msg']}",
            hint="see the ModelServingRevision fields (msr schema revision-config)",
        )
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors
