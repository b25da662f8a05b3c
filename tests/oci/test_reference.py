"""References by the distribution grammar; hypothesis round-trips."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from msr_oci.oci import InvalidReference, Reference, is_loopback_host, looks_like_host

HEX64 = "a" * 64

components = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}", fullmatch=True)
repositories = st.lists(components, min_size=1, max_size=3).map("/".join)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
hosts = st.one_of(
    st.just("localhost"),
    st.builds(
        lambda a, p: f"{a}:{p}",
        st.sampled_from(["127.0.0.1", "registry.example.com", "[::1]"]),
        st.integers(1, 65535),
    ),
    st.sampled_from(["ghcr.io", "registry.example.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com"]),
)
digests = st.one_of(
    st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
    st.from_regex(r"sha512:[0-9a-f]{128}", fullmatch=True),
)


@given(st.one_of(st.none(), hosts), repositories, st.one_of(st.none(), tags), st.one_of(st.none(), digests))
def test_parse_format_round_trip(
    host: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    # a local name's first component cannot look like a host when more follow (it would be one)
    first, _, rest = repository.partition("/")
    assume(host is not None or not rest or not looks_like_host(first))
    ref = Reference(repository=repository, registry=host, tag=tag, digest=digest)
    parsed = Reference.parse(str(ref))
    assert parsed == ref
    assert str(parsed) == str(ref)


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("fraud-detector", None, "fraud-detector", None, None),
        ("fraud-detector:1.0.0", None, "fraud-detector", "1.0.0", None),
        ("team/fraud-detector:1.0", None, "team/fraud-detector", "1.0", None),
        ("localhost/fraud:1", "localhost", "fraud", "1", None),
        (
            "127.0.0.1:5000/serving/fraud@sha256:" + HEX64,
            "127.0.0.1:5000",
            "serving/fraud",
            None,
            "sha256:" + HEX64,
        ),
        ("ghcr.io/org/model:v1@sha256:" + HEX64, "ghcr.io", "org/model", "v1", "sha256:" + HEX64),
        ("[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", None),
    ],
)
def test_parse_examples(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.is_local is (registry is None)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("Fraud/model", "'Fraud'"),
        ("fraud:bad+tag", "'bad+tag'"),
        ("fraud@sha256:abc", "'sha256:abc'"),
        ("fraud@md5:" + "a" * 32, "unsupported algorithm"),
        ("fraud:" + "x" * 129, "tag"),
        ("registry.example.com:99999/x", "'99999'"),
        ("a//b", "''"),
        ("", "empty"),
        ("fraud detector", "whitespace"),
    ],
)
def test_invalid_references_quote_the_bad_part(text: str, quoted: str) -> None:
    with pytest.raises(InvalidReference) as info:
        Reference.parse(text)
    assert quoted in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.3.4.5", True),
        ("[::1]:5000", True),
        ("registry.example.com", False),
        ("10.0.0.1:5000", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts_default_to_plain_http(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
