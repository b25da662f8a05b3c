"""``list_revisions`` filters: a dict, as in the proposal, compiled into a predicate.

Keys combine with AND; ``{"any": [filter, ...]}`` expresses OR. An unknown key is an error.
``could_match`` answers from what a tag listing already tells (name, version, aliases), so
revisions that cannot match are never fetched.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from msr_oci.oci.errors import InputError
from msr_oci.revision import ModelServingRevision, version_matches

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

Predicate = Callable[[ModelServingRevision], bool]


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
    checks: list[Callable[[float], bool]] = []
    for part in spec.split(","):
        match = _COMPARISON.match(part)
        if not match:
            raise FilterError(key, f"bad comparison {part!r}")
        op = _OPERATORS[match.group(1) or "=="]
        try:
            bound = float(match.group(2))
        except ValueError:
            raise FilterError(key, f"{match.group(2)!r} is not a number") from None
        checks.append(lambda value, op=op, bound=bound: op(value, bound))
    return lambda value: all(check(value) for check in checks)


def _glob(pattern: Any, key: str) -> Callable[[str | None], bool]:
    if not isinstance(pattern, str):
        raise FilterError(key, "must be a string (shell-style wildcards allowed)")
    return lambda value: value is not None and fnmatch.fnmatchcase(value, pattern)


def _version_condition(spec: Any) -> Callable[[str], bool]:
    if not isinstance(spec, str):
        raise FilterError("version", "must be a string such as '1.2.0' or '>=1.2,<2'")
    version_matches("0", spec)  # raises a clear InputError on a malformed range, before any request
    return lambda version: version_matches(version, spec)


def compile_filter(filters: Mapping[str, Any] | None) -> Predicate:
    """A predicate over complete revisions (aliases already attached)."""
    if not filters:
        return lambda _revision: True
    _check_keys(filters)
    checks: list[Predicate] = []
    for key, spec in filters.items():
        if key == "any":
            if not isinstance(spec, list | tuple) or not spec:
                raise FilterError("any", "must be a non-empty list of filter dicts")
            branches = [compile_filter(branch) for branch in spec]
            checks.append(lambda r, branches=branches: any(branch(r) for branch in branches))
        elif key == "name":
            name_ok = _glob(spec, key)
            checks.append(lambda r, ok=name_ok: ok(r.name))
        elif key == "version":
            version_ok = _version_condition(spec)
            checks.append(lambda r, ok=version_ok: ok(r.version))
        elif key == "alias":
            alias_ok = _glob(spec, key)
            checks.append(lambda r, ok=alias_ok: any(ok(a) for a in r.aliases))
        elif key == "created_by":
            by_ok = _glob(spec, key)
            checks.append(lambda r, ok=by_ok: ok(r.created_by))
        elif key == "runtime_variant":
            variant_ok = _glob(spec, key)
            checks.append(lambda r, ok=variant_ok: ok(_runtime_variant(r)))
        elif key == "digest":
            digest_ok = _glob(spec, key)
            checks.append(lambda r, ok=digest_ok: ok(r.digest))
        elif key == "created_after":
            after = _as_datetime(key, spec)
            checks.append(lambda r, after=after: r.created_at is not None and r.created_at > after)
        elif key == "created_before":
            before = _as_datetime(key, spec)
            checks.append(lambda r, before=before: r.created_at is not None and r.created_at < before)
        elif key == "labels":
            checks.append(_labels_condition(spec))
        elif key == "metrics":
            checks.append(_metrics_condition(spec))
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


def _runtime_variant(revision: ModelServingRevision) -> str | None:
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
