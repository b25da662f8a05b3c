"""Versions: the tag a version is stored under, semver-aware ordering, and version ranges."""

from __future__ import annotations

import fnmatch
import re
from typing import Final

from msr_oci.errors import InputError
from msr_oci.oci.reference import is_tag

__all__ = [
    "DIGEST_DERIVED_TAG",
    "check_publishable_version",
    "check_version",
    "is_prerelease",
    "parse_semver",
    "tag_to_version",
    "version_matches",
    "version_sort_key",
    "version_to_tag",
]

# semver 2.0, leniently: an optional "v", and missing minor/patch read as 0 ("v2", "1.2")
_SEMVER: Final = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_CHUNKS: Final = re.compile(r"\d+|\D+")
#: tags other tools derive from a digest: the referrers API's fallback tags (distribution spec,
#: "referrers tag schema") and cosign's signature, attestation and SBOM tags (``sha256-<hex>.sig``)
DIGEST_DERIVED_TAG: Final = re.compile(r"^(sha256|sha512)-[0-9a-f]{64,128}(\.[A-Za-z0-9]+)?$")
#: semver 2.0 exactly (semver.org's regular expression): what `msr push` publishes unless told otherwise
_SEMVER_STRICT: Final = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def check_publishable_version(version: str, *, any_scheme: bool = False) -> str:
    """A version to publish: SemVer 2.0 (``1.2.0``, ``2.0.0-rc.1``, ``1.0.0+cu124``) unless
    ``any_scheme`` (a documented opt-in) allows any tag-safe version. Raises ``InputError``."""
    try:
        check_version(version)
    except ValueError as exc:
        raise InputError(f"version {version!r} {exc}") from None
    if version == "latest" or DIGEST_DERIVED_TAG.match(version) is not None:
        # (only reachable with any_scheme) listings would never show it as a version
        what = (
            "is reserved (a bare NAME means the latest stable version)"
            if version == "latest"
            else ("is a tag other tools derive from a digest (referrers, cosign), never a version")
        )
        raise InputError(f"version {version!r} {what}", hint="choose another version string")
    if not any_scheme and _SEMVER_STRICT.match(version) is None:
        raise InputError(
            f"version {version!r} is not SemVer 2.0",
            hint="use MAJOR.MINOR.PATCH such as 1.0.0 (no 'v', no leading zeros; aliases such as "
            "'production' are set with `msr promote`), or allow other schemes with --any-version",
        )
    return version


def is_prerelease(version: str) -> bool:
    parsed = parse_semver(version)
    return parsed is not None and bool(parsed[3])


def check_version(version: str) -> str:
    """A version must map to a valid tag; '_' is refused because tags spell semver's '+' as '_'."""
    if not version:
        raise ValueError("must not be empty")
    if "_" in version:
        raise ValueError("must not contain '_' (tags store semver '+' as '_'); use '-' or '.' instead")
    if not is_tag(version_to_tag(version)) or version.startswith("+"):
        raise ValueError(
            "must be at most 128 characters of letters, digits, '.', '-' and '+', "
            "starting with a letter or digit"
        )
    return version


def version_to_tag(version: str) -> str:
    """The tag a version is stored under: '+' is not allowed in tags, so '1.0+cu121' -> '1.0_cu121'."""
    return version.replace("+", "_")


def tag_to_version(tag: str) -> str:
    return tag.replace("_", "+")


def parse_semver(version: str) -> tuple[int, int, int, tuple[str, ...], tuple[str, ...]] | None:
    """(major, minor, patch, prerelease identifiers, build identifiers), or None if not semver."""
    match = _SEMVER.match(version)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    return (
        int(major),
        int(minor or 0),
        int(patch or 0),
        tuple(pre.split(".")) if pre else (),
        tuple(build.split(".")) if build else (),
    )


def _identifier_key(identifier: str) -> tuple[int, int, str]:
    # semver: numeric identifiers compare numerically and sort before alphanumeric ones
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


def _natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(_identifier_key(chunk) for chunk in _CHUNKS.findall(text))


def _precedence(version: str) -> tuple[object, ...]:
    # a release sorts after its prereleases; a shorter prerelease list sorts first when it is a prefix
    parsed = parse_semver(version)
    if parsed is None:
        return (0, _natural_key(version))
    major, minor, patch, pre, _ = parsed
    pre_key = (1, ()) if not pre else (0, tuple(_identifier_key(p) for p in pre))
    return (1, (major, minor, patch), pre_key)


def version_sort_key(version: str) -> tuple[object, ...]:
    """Sort key: semver 2.0 precedence when the version parses, else natural order (before semver).

    Equal precedence (build metadata, "1.2" vs "1.2.0") is broken by the text so the order is total.
    """
    return (*_precedence(version), _natural_key(version), version)


# ---- ranges -----------------------------------------------------------------------------------------

_CLAUSE: Final = re.compile(r"^(==|!=|>=|<=|~=|>|<|\^|=)?\s*([0-9A-Za-z*][0-9A-Za-z.+*-]*)$")


def _upper_bound(op: str, bound: str) -> str:
    """The exclusive upper end of '~=' (PEP 440 compatible release) and '^' (npm caret)."""
    parsed = parse_semver(bound)
    if parsed is None:
        raise InputError(f"{op}{bound}: {op!r} needs a numeric version such as 1.2 or 1.2.3")
    major, minor, patch = parsed[:3]
    given = len(bound.lstrip("v").split("+")[0].split("-")[0].split("."))
    if op == "~=":
        if given < 2:
            raise InputError(f"~={bound}: a compatible release needs at least two components, e.g. ~=1.2")
        return f"{major + 1}.0.0" if given == 2 else f"{major}.{minor + 1}.0"
    if major > 0:
        return f"{major + 1}.0.0"
    return f"0.{minor + 1}.0" if minor > 0 else f"0.0.{patch + 1}"


def _clause_matches(version: str, op: str, bound: str) -> bool:
    if op in ("==", "=", "!="):
        equal = (
            fnmatch.fnmatchcase(version, bound)
            if "*" in bound
            else version == bound or (_precedence(version) == _precedence(bound) and "+" not in bound)
        )
        return equal if op != "!=" else not equal
    here = _precedence(version)
    if op in ("~=", "^"):
        return _precedence(bound) <= here < _precedence(_upper_bound(op, bound))
    there = _precedence(bound)
    return {">=": here >= there, "<=": here <= there, ">": here > there, "<": here < there}[op]


def version_matches(version: str, spec: str) -> bool:
    """Whether ``version`` satisfies a range such as ``">=1.2,<2"``, ``"==1.4.*"``, ``"~=1.2"``, ``"^0.3"``.

    Clauses are joined by commas and must all hold; a bare version means ``==``.
    Raises ``InputError`` for a malformed range.
    """
    clauses = [part.strip() for part in spec.split(",")]
    if not spec.strip() or any(not part for part in clauses):
        raise InputError(f"empty version range clause in {spec!r}", hint="e.g. '>=1.2,<2' or '==1.4.*'")
    parsed: list[tuple[str, str]] = []
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if match is None:
            raise InputError(f"bad version range clause {clause!r}", hint="operators: == != >= <= > < ~= ^")
        op, bound = match.group(1) or "==", match.group(2)
        if op in ("~=", "^"):
            _upper_bound(op, bound)  # validates the bound
        parsed.append((op, bound))
    return all(_clause_matches(version, op, bound) for op, bound in parsed)
