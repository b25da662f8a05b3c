"""Parsing of command-line values: references split into namespace and name, ``k=v`` pairs, filters."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msr_oci.errors import InputError

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice
    from msr_oci.registry.refs import RevisionRef

_FILTER_HINT = "KEY=VALUE (name, version, alias, label.<key>, metric.<key>, ...) or a {...} filter dict"


def locate_name(text: str) -> RevisionRef:
    """``127.0.0.1:5000/serving/fraud`` -> namespace ``127.0.0.1:5000/serving``, name ``fraud``."""
    from msr_oci.registry.refs import RevisionRef  # lazily: keeps ``msr --help`` light

    return RevisionRef.parse_name(text)


def split_version(text: str) -> tuple[RevisionRef, str]:
    """``[host/ns/]name:version`` for push; the version may hold a semver ``+`` (not legal in a tag)."""
    from msr_oci.registry.refs import RevisionRef

    ref = RevisionRef.parse_versioned(text)
    assert ref.version is not None
    return RevisionRef(ref.namespace, ref.name), ref.version


def name_and_version(text: str, version: str | None) -> tuple[str, str]:
    """``NAME VERSION``, or ``NAME:VERSION`` / ``NAME@DIGEST`` in one argument (as get and pull take
    it) -> (name, version); a digest comes back as ``@sha256:...``."""
    from msr_oci.registry.refs import RevisionRef

    ref = RevisionRef.parse(text)
    given = f"@{ref.digest}" if ref.digest else ref.version
    if given and version is not None:
        raise InputError(f"{text!r} already names a version; {version!r} is one too many", hint="give one")
    chosen = given or version
    if not chosen:
        raise InputError(f"{text!r} names no version", hint="write NAME:VERSION, e.g. fraud-detector:1.0.0")
    return (f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name), chosen


def pairs(values: Iterable[str], option: str) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise InputError(f"{option} {item!r} is not KEY=VALUE", hint=f"e.g. {option} team=risk")
        out[key.strip()] = value
    return out


def number_pairs(values: Iterable[str], option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in pairs(values, option).items():
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InputError(f"{option} {key}={value!r}: not a finite number", hint="e.g. accuracy=0.95")
        out[key] = number
    return out


def scalar(value: str) -> Any:
    """``100`` -> 100, ``0.5`` -> 0.5, ``true`` -> True, anything else stays a string."""
    from msr_oci.revision.yaml_reader import YamlProblem, parse_yaml

    try:
        parsed = parse_yaml(value).data
    except YamlProblem:
        return value
    return parsed if isinstance(parsed, int | float | bool) else value


def _structured(text: str, where: str) -> Any:
    from msr_oci.revision.yaml_reader import YamlProblem, parse_yaml

    try:
        return parse_yaml(text).data
    except YamlProblem as exc:
        problem = " ".join(str(exc).split())
        raise InputError(f"--filter {where}: not valid JSON/YAML: {problem}") from None


def filters(values: Iterable[str]) -> dict[str, Any]:
    """``--filter`` values to the API's filter dict (AND of everything given)."""
    out: dict[str, Any] = {}
    for item in values:
        text = item.strip()
        if text.startswith("{"):
            parsed = _structured(text, text)
            if not isinstance(parsed, dict):
                raise InputError(f"--filter {text!r} is not a dict", hint=_FILTER_HINT)
            _merge(out, parsed)
            continue
        key, eq, value = text.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"--filter {item!r} is not KEY=VALUE", hint=_FILTER_HINT)
        section, dot, sub = key.partition(".")
        if dot and section in ("label", "labels") and sub:
            _merge(out, {"labels": {sub: value}})
        elif dot and section in ("metric", "metrics") and sub:
            _merge(out, {"metrics": {sub: value}})
        else:
            # the API knows the keys and rejects an unknown one with the list of known ones
            structured = value.lstrip().startswith(("{", "[")) or key in ("labels", "metrics", "any")
            _merge(out, {key: _structured(value, key) if structured else value})
    return out


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        elif key == "any" and isinstance(into.get(key), list) and isinstance(value, list):
            into[key] = [*into[key], *value]
        else:
            into[key] = value


def policy_choice(value: str | None) -> PolicyChoice | None:
    """``repository`` names the repository's policy; anything else is a file (write ./repository for
    a file of that name)."""
    if value is None:
        return None
    return "repository" if value == "repository" else Path(value)
