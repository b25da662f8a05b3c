"""Version tags, semver-aware ordering and version ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msr_oci.errors import InputError
from msr_oci.oci.reference import is_tag
from msr_oci.revision import tag_to_version, version_matches, version_sort_key, version_to_tag
from msr_oci.revision.versions import check_version


def test_plus_is_stored_as_underscore_and_read_back() -> None:
    assert version_to_tag("1.0.0+cu121") == "1.0.0_cu121"
    assert tag_to_version("1.0.0_cu121") == "1.0.0+cu121"


@given(st.from_regex(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,60}", fullmatch=True))
def test_every_valid_version_maps_to_a_tag_and_back(version: str) -> None:
    check_version(version)
    assert is_tag(version_to_tag(version))
    assert tag_to_version(version_to_tag(version)) == version


def test_semver_precedence() -> None:
    ordered = [
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "v2",
    ]
    assert sorted(reversed(ordered), key=version_sort_key) == ordered


def test_non_semver_versions_sort_naturally_before_semver() -> None:
    assert sorted(["run-10", "1.0.0", "run-9", "run-100"], key=version_sort_key) == [
        "run-9",
        "run-10",
        "run-100",
        "1.0.0",
    ]


@given(
    st.lists(
        st.from_regex(
            r"v?[0-9]{1,2}(\.[0-9]{1,2}){0,2}(-[a-z0-9]{1,3})?(\+b[0-9])?|[a-z]{1,3}-[0-9]{1,3}",
            fullmatch=True,
        ),
        max_size=8,
    )
)
def test_sort_key_is_a_total_order(versions: list[str]) -> None:
    once = sorted(versions, key=version_sort_key)
    assert sorted(reversed(once), key=version_sort_key) == once


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("1.5.0", ">=1.2,<2", True),
        ("2.0.0", ">=1.2,<2", False),
        ("1.1.9", ">=1.2,<2", False),
        ("1.2", "==1.2.0", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "!=1.2.3", False),
        ("1.4.7", "==1.4.*", True),
        ("1.5.0", "==1.4.*", False),
        ("1.2.9", "~=1.2.3", True),
        ("1.3.0", "~=1.2.3", False),
        ("1.9.0", "~=1.2", True),
        ("2.0.0", "~=1.2", False),
        ("1.9.9", "^1.2.3", True),
        ("2.0.0", "^1.2.3", False),
        ("0.3.5", "^0.3", True),
        ("0.4.0", "^0.3", False),
        ("1.0.0+cu121", ">=1.0.0", True),
        ("run-10", ">run-9", True),
    ],
)
def test_version_ranges(version: str, spec: str, expected: bool) -> None:
    assert version_matches(version, spec) is expected


@pytest.mark.parametrize("spec", ["", ">=1.2,", ">>1", "~=1", "^abc", ">= 1 2"])
def test_malformed_ranges_raise_input_error(spec: str) -> None:
    with pytest.raises(InputError):
        version_matches("1.0.0", spec)
