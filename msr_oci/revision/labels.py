"""What a label or metric name may be, and a label value: one rule for push, the API and `msr label`.

Keys are what filters and tables name (``--filter label.team=risk``, ``label.K`` columns), so they
stay plain: a letter or digit first, then letters, digits, ``.``, ``_``, ``-`` or ``/`` (like
Kubernetes label keys with a prefix), at most 128 characters. A label value is one line of text of
at most 1,024 characters (a URL fits; the repository index repeats every label of every version).

Records already stored are read as they are (``ModelServingRevision`` applies these rules to new
input only), so a label an older msr-oci accepted never makes a revision unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from msr_oci.errors import InputError

MAX_KEY_LENGTH: Final = 128
MAX_LABEL_VALUE_LENGTH: Final = 1024
_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


class InvalidMetadata(InputError):
    """A label or metric name, or a label value, that breaks the rules above (exit 2)."""


def key_problem(key: str, kind: str = "label") -> str | None:
    """Why ``key`` cannot name a label (or metric), or ``None``."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or len(key) > MAX_KEY_LENGTH:
        return (
            f"{kind} name {key!r} must start with a letter or digit and hold only letters, digits, "
            f"'.', '_', '-' and '/' (at most {MAX_KEY_LENGTH} characters)"
        )
    return None


def value_problem(key: str, value: str) -> str | None:
    """Why ``value`` cannot be the value of label ``key``, or ``None``."""
    if _CONTROL.search(value):
        return f"label {key!r}: the value holds a control character (a newline, a tab, ...)"
    if len(value) > MAX_LABEL_VALUE_LENGTH:
        return f"label {key!r}: the value has {len(value)} characters, over {MAX_LABEL_VALUE_LENGTH}"
    return None


def label_problems(labels: Mapping[str, str]) -> list[str]:
    return [
        problem
        for key, value in labels.items()
        for problem in (key_problem(key), value_problem(key, value))
        if problem is not None
    ]


def metric_problems(names: Iterable[str]) -> list[str]:
    return [problem for name in names if (problem := key_problem(name, "metric")) is not None]


def check_labels(labels: Mapping[str, str]) -> None:
    """Raise ``InvalidMetadata`` naming the first bad label."""
    problems = label_problems(labels)
    if problems:
        raise InvalidMetadata(problems[0], hint="e.g. team=risk or owner=alice@example.com")


def check_metric_names(names: Iterable[str]) -> None:
    problems = metric_problems(names)
    if problems:
        raise InvalidMetadata(problems[0], hint="e.g. accuracy=0.95 or eval/f1=0.8")
