"""Fuzzing the parsers that read untrusted input: only the library's typed errors may come out.

References, manifests (as JSON values and as raw bytes), model definitions through the loader, and
revision configs through ``decode_revision`` / ``revision_files``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msr_oci.errors import MsrOciError
from msr_oci.oci import MEDIA_TYPE_IMAGE_MANIFEST, Descriptor, ImageManifest, Reference, parse_manifest
from msr_oci.revision import ModelServingRevision, decode_revision, encode_revision, revision_files
from msr_oci.revision.loader import load_revision_dir

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ----------------------------------------------------------------------------------

_REFERENCE_ALPHABET = "abcXYZ019._-/:@+ \x00é" + "sha256" + "0123456789abcdef"
references = st.one_of(
    st.text(alphabet=_REFERENCE_ALPHABET, max_size=90),
    st.text(max_size=40),
    st.builds(
        lambda host, repo, tag, hexes: f"{host}/{repo}:{tag}@sha256:{hexes}",
        st.sampled_from(["localhost:5000", "127.0.0.1", "Reg.io", "[::1]:80", "a:b:c"]),
        st.text(alphabet="abc/._-", min_size=0, max_size=20),
        st.text(alphabet="abcABC123._-+", max_size=130),
        st.text(alphabet="0123456789abcdefg", max_size=70),
    ),
)

_digests = st.one_of(
    st.builds(lambda h: "sha256:" + h, st.text(alphabet="0123456789abcdef", min_size=60, max_size=66)),
    st.sampled_from(["md5:abc", "sha512:" + "a" * 128, "", "sha256:", ":::"]),
)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=20)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
descriptors = st.fixed_dictionaries(
    {"mediaType": st.text(max_size=30) | st.sampled_from(["application/octet-stream"]), "digest": _digests},
    optional={
        "size": st.integers(-5, 2**65) | json_values,
        "annotations": st.dictionaries(
            st.sampled_from(["org.opencontainers.image.title", "x"]),
            st.sampled_from(["../x", "/abs", "a\x00b", "ok.txt", "dir/ok", "", "."]) | json_values,
            max_size=2,
        ),
        "urls": json_values,
    },
)
manifests = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.sampled_from([2, 1, "2"]) | json_values,
        "mediaType": st.sampled_from(
            [MEDIA_TYPE_IMAGE_MANIFEST, "application/vnd.oci.image.index.v1+json", "text/plain"]
        ),
        "artifactType": st.sampled_from(["application/vnd.backend.ai.model-serving-revision.v1"])
        | json_values,
        "config": descriptors | json_values,
        "layers": st.lists(descriptors, max_size=4) | json_values,
        "manifests": st.lists(descriptors, max_size=3) | json_values,
        "subject": descriptors,
        "annotations": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3) | json_values,
    },
)

_model_keys = st.sampled_from(
    [
        "models",
        "name",
        "model_path",
        "model-path",
        "service",
        "port",
        "start_command",
        "command",
        "health_check",
        "health-check",
        "enable",
        "interval",
        "max_retries",
        "metadata",
        "shell",
        "pre_start_actions",
        "action",
        "args",
        "expected_status_code",
        "initial_delay",
    ]
)
model_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_model_keys, inner, max_size=5),
    max_leaves=25,
)

# ---- the properties -----------------------------------------------------------------------------


@FUZZ
@given(references)
def test_reference_parse_raises_only_typed_errors(text: str) -> None:
    try:
        parsed = Reference.parse(text)
    except MsrOciError:
        return
    assert Reference.parse(str(parsed)) == parsed


@FUZZ
@given(manifests)
def test_parse_manifest_raises_only_typed_errors(document: dict[str, Any]) -> None:
    data = json.dumps(document, allow_nan=True).encode()
    try:
        manifest = parse_manifest(data)
    except MsrOciError:
        return
    if isinstance(manifest, ImageManifest):
        with contextlib.suppress(MsrOciError):
            revision_files(manifest)


@FUZZ
@given(st.binary(max_size=300) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_parse_manifest_of_arbitrary_bytes_raises_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(MsrOciError):
        parse_manifest(data, MEDIA_TYPE_IMAGE_MANIFEST)


@FUZZ
@given(model_documents, st.sampled_from(["yaml", "json-in-yaml", "broken"]))
def test_model_definitions_through_the_loader_raise_only_typed_errors(document: Any, style: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        if style == "yaml":
            text = yaml.safe_dump(document)
        elif style == "json-in-yaml":
            text = json.dumps(document, allow_nan=True)
        else:
            text = yaml.safe_dump(document)[: len(str(document)) // 2] + ": [\n"
        (root / "model-definition.yaml").write_text(text)
        (root / "deployment-config.yaml").write_text("image: python:3.11\n")
        with contextlib.suppress(MsrOciError):
            load_revision_dir(root, name="fuzz", version="1.0.0")


def _base_revision() -> tuple[ImageManifest, bytes]:
    revision = ModelServingRevision(
        name="fuzz",
        version="1.0.0",
        model_definition={"models": [{"name": "m", "model_path": "/m", "service": {"port": 8000}}]},
        service_configuration={"image": "python:3.11"},
    )
    encoded = encode_revision(revision)
    config = encoded.blobs[0][1]
    assert isinstance(config, bytes)
    return encoded.manifest, config


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "version",
                "model_definition",
                "service_configuration",
                "extra_files",
                "labels",
                "metrics",
                "created_at",
                "lineage",
                "supersedes",
                "zzz",
            ]
        ),
        json_values,
        max_size=4,
    ),
    st.booleans(),
)
def test_decode_revision_of_a_tampered_config_raises_only_typed_errors(
    changes: dict[str, Any], raw: bool
) -> None:
    manifest, config = _base_revision()
    record = json.loads(config)
    record.update(changes)
    data = json.dumps(record, allow_nan=True).encode() if not raw else config[: len(changes) * 7]
    descriptor = Descriptor.from_bytes(manifest.config.media_type, data)
    tampered = manifest.model_copy(update={"config": descriptor})
    try:
        revision = decode_revision(tampered, data, digest="sha256:" + "0" * 64)
    except MsrOciError:
        return
    assert revision.name
