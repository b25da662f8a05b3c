"""``list_revisions`` filters: a dict, as in the proposal, compiled into a predicate.

Keys combine with AND; ``{"any": [filter, ...]}`` expresses OR. An unknown key is an error.
``could_match`` answers from what a tag listing already tells (name, version, aliases), so
revisions that cannot match are never fetched. A compiled filter takes a whole revision or the
``RevisionSummary`` its manifest annotations carry (every key can be answered from either), so a
listing fetches the configs of matches only.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from msr_oci.errors import InputError
from msr_oci.revision import ModelServingRevision, version_matches
from msr_oci.revision.summary import RevisionSummary

FILTER_KEYS = frozenset(
    {
        "name",
        "version",
        "labels",
        "alias",
        "created_by",
        "created_after",
        "created_before",
        "runtime_variant",
        "metrics",
        "digest",
        "any",
    }
)

_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*(.+?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
}

Predicate = Callable[[ModelServingRevision | RevisionSummary], bool]


class FilterError(InputError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(
            f"filter {key!r}: {problem}",
            hint=f"known filter keys: {', '.join(sorted(FILTER_KEYS))}",
        )
        self.key = key


def _check_keys(filters: Mapping[str, Any]) -> None:
    if not isinstance(filters, Mapping):
        raise FilterError("<filters>", "must be a dict")
    unknown = sorted(set(filters) - FILTER_KEYS)
    if unknown:
        raise FilterError(unknown[0], "unknown filter key")


def _as_datetime(key: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise FilterError(key, f"{value!r} is not an ISO 8601 date or time") from None
    else:
        raise FilterError(key, "must be a datetime or an ISO 8601 string")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number_condition(key: str, spec: Any) -> Callable[[float], bool]:
    """``0.9`` means equality; ``">=0.9,<1"`` is a comma-separated AND of comparisons."""
    if isinstance(spec, bool) or not isinstance(spec, int | float | str):
        raise FilterError(key, "must be a number or a comparison such as '>=0.9'")
    if not isinstance(spec, str):
        return lambda value: value == float(spec)
    comparisons: list[tuple[Callable[[float, float], bool], float]] = []
    for part in spec.split(","):
        match = _COMPARISON.match(part)
        if not match:
            raise FilterError(key, f"bad comparison {part!r}")
        try:
            bound = float(match.group(2))
        except ValueError:
            raise FilterError(key, f"{match.group(2)!r} is not a number") from None
        comparisons.append((_OPERATORS[match.group(1) or "=="], bound))
    return lambda value: all(op(value, bound) for op, bound in comparisons)


def _glob(pattern: Any, key: str) -> Callable[[str | None], bool]:
    if not isinstance(pattern, str):
        raise FilterError(key, "must be a string (shell-style wildcards allowed)")
    return lambda value: value is not None and fnmatch.fnmatchcase(value, pattern)


def _version_condition(spec: Any) -> Callable[[str], bool]:
    if not isinstance(spec, str):
        raise FilterError("version", "must be a string such as '1.2.0' or '>=1.2,<2'")
    version_matches("0", spec)  # raises a clear InputError on a malformed range, before any request
    return lambda version: version_matches(version, spec)


def _text_field(
    pattern: Any, key: str, field: Callable[[ModelServingRevision | RevisionSummary], str | None]
) -> Predicate:
    matches = _glob(pattern, key)
    return lambda revision: matches(field(revision))


def _any_of(spec: Any) -> Predicate:
    if not isinstance(spec, list | tuple) or not spec:
        raise FilterError("any", "must be a non-empty list of filter dicts")
    branches = [compile_filter(branch) for branch in spec]
    return lambda revision: any(branch(revision) for branch in branches)


def _alias_condition(spec: Any) -> Predicate:
    matches = _glob(spec, "alias")
    return lambda revision: any(matches(alias) for alias in revision.aliases)


def _version_predicate(spec: Any) -> Predicate:
    matches = _version_condition(spec)
    return lambda revision: matches(revision.version)


def _time_condition(key: str, spec: Any) -> Predicate:
    bound = _as_datetime(key, spec)
    if key == "created_after":
        return lambda revision: revision.created_at is not None and revision.created_at > bound
    return lambda revision: revision.created_at is not None and revision.created_at < bound


_COMPILERS: dict[str, Callable[[Any], Predicate]] = {
    "any": _any_of,
    "name": lambda spec: _text_field(spec, "name", lambda r: r.name),
    "version": _version_predicate,
    "alias": _alias_condition,
    "created_by": lambda spec: _text_field(spec, "created_by", lambda r: r.created_by),
    "runtime_variant": lambda spec: _text_field(spec, "runtime_variant", _runtime_variant),
    "digest": lambda spec: _text_field(spec, "digest", lambda r: r.digest),
    "created_after": lambda spec: _time_condition("created_after", spec),
    "created_before": lambda spec: _time_condition("created_before", spec),
    "labels": lambda spec: _labels_condition(spec),
    "metrics": lambda spec: _metrics_condition(spec),
}


def compile_filter(filters: Mapping[str, Any] | None) -> Predicate:
    """A predicate over complete revisions or their summaries (aliases already attached)."""
    if not filters:
        return lambda _revision: True
    _check_keys(filters)
    checks = [_COMPILERS[key](spec) for key, spec in filters.items()]
    return lambda revision: all(check(revision) for check in checks)


def _labels_condition(spec: Any) -> Predicate:
    if not isinstance(spec, Mapping):
        raise FilterError("labels", "must be a dict of label -> value (wildcards allowed)")
    wanted = {str(k): _glob(str(v), f"labels.{k}") for k, v in spec.items()}
    return lambda r: all(ok(r.labels.get(k)) for k, ok in wanted.items())


def _metrics_condition(spec: Any) -> Predicate:
    if not isinstance(spec, Mapping):
        raise FilterError("metrics", "must be a dict of metric -> comparison, e.g. {'accuracy': '>=0.9'}")
    wanted = {str(k): _number_condition(f"metrics.{k}", v) for k, v in spec.items()}
    return lambda r: all(k in r.metrics and ok(r.metrics[k]) for k, ok in wanted.items())


def _runtime_variant(revision: ModelServingRevision | RevisionSummary) -> str | None:
    if isinstance(revision, RevisionSummary):
        return revision.runtime_variant
    variant = revision.service_configuration.runtime_variant
    return str(getattr(variant, "value", variant)) if variant is not None else None


def could_match(filters: Mapping[str, Any] | None, name: str, version: str, aliases: Iterable[str]) -> bool:
    """False only when name, version or alias alone rule a revision out (no fetch needed then)."""
    if not filters:
        return True
    if "any" in filters and not any(could_match(b, name, version, aliases) for b in filters["any"]):
        return False
    if "name" in filters and not _glob(filters["name"], "name")(name):
        return False
    if "version" in filters and not _version_condition(filters["version"])(version):
        return False
    if "alias" in filters:
        alias_ok = _glob(filters["alias"], "alias")
        if not any(alias_ok(a) for a in aliases):
            return False
    return True
