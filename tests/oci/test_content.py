"""Digests, descriptors, manifests, canonical JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msr_oci.oci import (
    EMPTY_DESCRIPTOR,
    MAX_MANIFEST_SIZE,
    Descriptor,
    Digester,
    DigestMismatch,
    ImageIndex,
    ImageManifest,
    InvalidDigest,
    InvalidManifest,
    SizeMismatch,
    canonical_json,
    digest_bytes,
    parse_digest,
    parse_manifest,
    successors,
    verify_bytes,
)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_stable_and_order_independent(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(value) == canonical_json(reordered)
    assert json.loads(canonical_json(value)) == value


def test_empty_descriptor_is_the_spec_one() -> None:
    assert EMPTY_DESCRIPTOR.digest == digest_bytes(b"{}")
    assert EMPTY_DESCRIPTOR.size == 2


@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from(["sha256", "sha512"]))
def test_streaming_digest_equals_one_shot(chunks: list[bytes], algorithm: str) -> None:
    digester = Digester(algorithm)
    for chunk in chunks:
        digester.update(chunk)
    whole = b"".join(chunks)
    assert digester.digest == f"{algorithm}:{hashlib.new(algorithm, whole).hexdigest()}"
    digester.verify(digester.digest, len(whole))


def test_verify_detects_size_and_digest_mismatch() -> None:
    good = digest_bytes(b"hello")
    verify_bytes(b"hello", good, 5)
    with pytest.raises(SizeMismatch):
        verify_bytes(b"hello!", good, 5)
    with pytest.raises(DigestMismatch):
        verify_bytes(b"hellO", good, 5)


@pytest.mark.parametrize("bad", ["sha256:xyz", "sha256:" + "A" * 64, "nocolon", "sha1:" + "a" * 40, ""])
def test_bad_digests_are_typed_errors(bad: str) -> None:
    with pytest.raises(InvalidDigest):
        parse_digest(bad)


def _manifest() -> ImageManifest:
    config = Descriptor.from_bytes("application/vnd.example.config.v1+json", b'{"a":1}')
    layer = Descriptor.from_bytes(
        "text/plain", b"hi", annotations={"org.opencontainers.image.title": "hi.txt"}
    )
    return ImageManifest(
        artifact_type="application/vnd.example+json", config=config, layers=[layer], annotations={"k": "v"}
    )


def test_manifest_round_trip_is_byte_identical() -> None:
    manifest = _manifest()
    data = manifest.to_bytes()
    parsed = parse_manifest(data)
    assert isinstance(parsed, ImageManifest)
    assert parsed.to_bytes() == data
    assert parsed.layers[0].title == "hi.txt"
    assert json.loads(data)["artifactType"] == "application/vnd.example+json"
    assert successors(parsed) == [parsed.config, *parsed.layers]


def test_index_parses_and_unknown_fields_survive() -> None:
    child = Descriptor.from_bytes("application/vnd.oci.image.manifest.v1+json", _manifest().to_bytes())
    index = ImageIndex(manifests=[child])
    raw = json.loads(index.to_bytes())
    raw["x-future"] = {"kept": True}
    parsed = parse_manifest(canonical_json(raw))
    assert isinstance(parsed, ImageIndex)
    assert json.loads(parsed.to_bytes())["x-future"] == {"kept": True}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1}}',
        b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
        + digest_bytes(b"").encode()
        + b'","size":-1}}',
    ],
)
def test_malformed_manifests_are_typed_errors(data: bytes) -> None:
    with pytest.raises(InvalidManifest):
        parse_manifest(data)


def test_manifest_size_cap() -> None:
    with pytest.raises(InvalidManifest, match="limit"):
        parse_manifest(b" " * (MAX_MANIFEST_SIZE + 1))
