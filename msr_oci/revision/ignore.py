"""Which files of a revision directory are left out of a publish, and which look like secrets.

Pure: the loader reads ``.msrignore`` and hands its lines here. The rules are the default excludes
below followed by the lines of ``.msrignore`` at the top of the directory, in gitignore syntax (read
by the ``pathspec`` library). As in git, the last pattern that matches decides, so ``!pattern`` in
``.msrignore`` can bring back a default exclude, and a file inside an excluded directory cannot be
brought back (the directory is not read at all). The revision's own documents (model definition,
service configuration, revision.yaml) are always read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore import GitIgnorePatternError

from msr_oci.revision.errors import Problem

__all__ = [
    "DEFAULT_EXCLUDES",
    "IGNORE_FILE",
    "MAX_IGNORE_FILE_BYTES",
    "SYNTAX_HINT",
    "Exclusion",
    "IgnoreRules",
    "secret_warning",
]

IGNORE_FILE: Final = ".msrignore"
#: a larger ignore file is refused: it is a short list of patterns, never data
MAX_IGNORE_FILE_BYTES: Final = 1 << 20

SYNTAX_HINT: Final = "gitignore syntax: one pattern a line, '#' comments, '!' re-includes"

#: never published unless ``.msrignore`` brings them back with ``!pattern``
DEFAULT_EXCLUDES: Final[tuple[str, ...]] = (
    ".*",  # dotfiles and dot-directories: .env, .venv/, .msrignore itself, ...
    ".git/",
    ".hg/",
    ".svn/",
    ".DS_Store",
    ".ipynb_checkpoints/",
    "__pycache__/",
    "*.py[cod]",
    "*~",
    "*.swp",
    "Thumbs.db",
)


@dataclass(frozen=True)
class Exclusion:
    """A file or directory left out of a publish, and the rule that left it out."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.reason})"


@dataclass(frozen=True)
class _Rule:
    pattern: str
    #: None: a default exclude; else the line of .msrignore
    line: int | None

    def describe(self) -> str:
        if self.line is None:
            return f"default exclude {self.pattern!r}"
        return f"{IGNORE_FILE} line {self.line}: {self.pattern!r}"


class IgnoreRules:
    """The default excludes plus a directory's ``.msrignore``."""

    def __init__(self, user_lines: list[str] | None = None) -> None:
        """``user_lines``: the lines of ``.msrignore``; bad patterns become ``problems`` (by line)."""
        self.problems: list[Problem] = []
        rules: list[_Rule] = []
        patterns = []
        numbered: list[tuple[int | None, str]] = [(None, line) for line in DEFAULT_EXCLUDES]
        numbered += [(number, line) for number, line in enumerate(user_lines or [], 1)]
        for number, line in numbered:
            try:
                compiled = GitIgnoreSpec.from_lines([line]).patterns
            except GitIgnorePatternError:
                message = f"{line.strip()!r} is not a valid pattern"
                self.problems.append(Problem(IGNORE_FILE, message, line=number, hint=SYNTAX_HINT))
                continue
            for pattern in compiled:
                if pattern.include is not None:  # blank lines and comments compile to no-ops
                    patterns.append(pattern)
                    rules.append(_Rule(line.strip(), number))
        self._spec = GitIgnoreSpec(patterns)
        self._rules = rules

    def exclusion(self, relative: str, *, is_dir: bool) -> Exclusion | None:
        """Why ``relative`` (a POSIX path under the root) is left out, or None when it is published."""
        result = self._spec.check_file(f"{relative}/" if is_dir else relative)
        if not result.include or result.index is None:
            return None
        shown = f"{relative}/" if is_dir else relative
        return Exclusion(shown, self._rules[result.index].describe())


#: whole names that hold credentials by convention
_SECRET_NAMES: Final = frozenset(
    {
        ".env",
        ".netrc",
        ".pgpass",
        ".pypirc",
        ".npmrc",
        ".htpasswd",
        ".git-credentials",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "credentials",
        "credentials.json",
        "kubeconfig",
    }
)
_SECRET_SUFFIXES: Final = (".env", ".pem", ".key", ".p12", ".pfx", ".keystore", ".jks")
#: words in a name that say "secret"; 'token' only alone, so tokenizer.json and
#: special_tokens_map.json (in every Hugging Face model) are not flagged
_SECRET_WORDS: Final = re.compile(
    r"(?:^|[^a-z])(secrets?|token|passwords?|passwd|credentials?|api[-_]?keys?|private[-_]?key)(?:[^a-z]|$)"
)


def secret_warning(relative: str) -> Problem | None:
    """A warning when a published file's name looks like it holds a secret (it is published anyway)."""
    name = relative.rsplit("/", 1)[-1].lower()
    if name in _SECRET_NAMES or name.startswith(".env."):
        why = f"its name {name!r}"
    elif name.endswith(_SECRET_SUFFIXES):
        why = f"its extension {PurePosixPath(name).suffix!r}"
    elif (match := _SECRET_WORDS.search(name)) is not None:
        why = f"the word {match.group(1)!r} in its name"
    else:
        return None
    return Problem(
        file=relative,
        message=f"looks like a secret ({why}) and will be published",
        severity="warning",
        hint=f"add {relative!r} to {IGNORE_FILE} to leave it out",
    )
