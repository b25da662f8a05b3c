"""The codec: determinism, round trips (hypothesis), artifact checks and path safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msr_oci.errors import DigestMismatch, InputError, UnsafePath
from msr_oci.oci.content import ANNOTATION_TITLE, Descriptor, ImageManifest, canonical_json
from msr_oci.oci.digest import digest_bytes
from msr_oci.revision import (
    ANNOTATION_SUPERSEDES,
    ARTIFACT_TYPE,
    MEDIA_TYPE_CONFIG,
    ExtraFile,
    InvalidRevisionRecord,
    ModelServingRevision,
    NotARevision,
    check_artifact,
    decode_revision,
    encode_revision,
    revision_files,
)
from msr_oci.revision.loader import describe_extra_file

DIGEST = "sha256:" + "ab" * 32

# ---- strategies -------------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_key = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
# a label's value is one line: control characters are refused on publish (labels.py)
_label_value = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _text
_json = st.recursive(
    _json_leaf | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=3),
    max_leaves=8,
)
_health = st.none() | st.fixed_dictionaries(
    {"path": st.sampled_from(["/health", "/ready"])},
    optional={"enable": st.booleans(), "max_retries": st.integers(0, 50), "interval": st.floats(0, 60)},
)
_service = st.none() | st.fixed_dictionaries(
    {"port": st.integers(2, 65535).filter(lambda p: p not in (2000, 2001))},
    optional={
        "start_command": st.none() | _text | st.lists(_text, max_size=4),
        "shell": st.none() | st.just("/bin/sh"),
        "health_check": _health,
        "pre_start_actions": st.lists(
            st.fixed_dictionaries({"action": _key, "args": st.dictionaries(_key, _json, max_size=2)}),
            max_size=2,
        ),
        "x_unknown": _json,
    },
)
_model = st.fixed_dictionaries(
    {"name": _text, "model_path": st.from_regex(r"/models/[a-z0-9]{1,8}", fullmatch=True)},
    optional={
        "service": _service,
        "metadata": st.none()
        | st.fixed_dictionaries({}, optional={"title": _text, "version": st.integers()}),
    },
)
_strategy = (
    st.none()
    | st.fixed_dictionaries(
        {"type": st.just("rolling")},
        optional={"max_surge": st.integers(0, 5) | st.just("25%"), "max_unavailable": st.integers(0, 5)},
    )
    | st.fixed_dictionaries(
        {"type": st.just("blue-green")},
        optional={"auto_promote": st.booleans(), "promote_delay_seconds": st.integers(0, 600)},
    )
)
_configuration = st.fixed_dictionaries(
    {},
    optional={
        "image": _text,
        "resource_slots": st.dictionaries(
            st.sampled_from(["cpu", "mem", "cuda.shares"]),
            st.integers(0, 64) | st.sampled_from(["4g", "32g"]) | st.floats(0, 8),
            max_size=3,
        ),
        "environ": st.dictionaries(_key.map(str.upper), _text, max_size=3),
        "runtime_variant": st.sampled_from(["vllm", "sglang", "nim", "huggingface-tgi", "cmd", "custom"]),
        "replicas": st.integers(0, 10),
        "cluster_mode": st.sampled_from(["SINGLE_NODE", "MULTI_NODE"]),
        "deployment_strategy": _strategy,
    },
)
_timestamp = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_extra_file = st.builds(
    lambda path, data: ExtraFile(path=path, digest=digest_bytes(data), size=len(data)),
    st.from_regex(r"(assets/)?[a-z0-9]{1,8}\.(bin|json)", fullmatch=True),
    st.binary(max_size=16),
)
_VERSION = r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?(-rc\.[0-9])?(\+cu12[0-9])?"
revisions = st.builds(
    lambda fields: ModelServingRevision.model_validate(fields),
    st.fixed_dictionaries(
        {
            "name": st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)?", fullmatch=True),
            "version": st.from_regex(
                r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?(-rc\.[0-9])?(\+cu12[0-9])?", fullmatch=True
            ),
            "model_definition": st.fixed_dictionaries({"models": st.lists(_model, max_size=2)}),
            "service_configuration": _configuration,
        },
        optional={
            "metadata": st.dictionaries(_key, _json, max_size=3),
            "created_at": _timestamp,
            "updated_at": _timestamp,
            "created_by": st.none() | _text,
            "description": st.none() | _text,
            "labels": st.dictionaries(_key, _label_value, max_size=3),
            "metrics": st.dictionaries(_key, st.floats(allow_nan=False, allow_infinity=False), max_size=3),
            "parameters": st.dictionaries(_key, _json, max_size=3),
            "lineage": st.fixed_dictionaries({}, optional={"parent": _text, "run_id": _text}),
            "extra_files": st.lists(_extra_file, max_size=3, unique_by=lambda f: f.path.casefold()),
            "supersedes": st.none() | st.just(DIGEST),
        },
    ),
)


def _decode(revision: ModelServingRevision, name: str | None = None) -> ModelServingRevision:
    encoded = encode_revision(revision)
    config = encoded.blobs[0][1]
    assert isinstance(config, bytes)
    return decode_revision(encoded.manifest, config, digest=encoded.descriptor.digest, reference_name=name)


# ---- properties -------------------------------------------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(revisions)
def test_decode_of_encode_round_trips_every_field(revision: ModelServingRevision) -> None:
    decoded = _decode(revision, "team/models/x")
    digest = encode_revision(revision).descriptor.digest
    assert decoded.digest == digest
    assert decoded.id == f"team/models/x@{digest}"
    assert decoded.model_copy(update={"id": None, "digest": None, "documents": []}) == revision
    # a revision built through the API gets its documents rendered, carrying no default it did not set
    assert [d.role for d in decoded.documents][:1] == ["model-definition"]
    assert decoded.model_definition.to_document() == revision.model_definition.to_document()


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(revisions)
def test_same_content_gives_byte_identical_artifact(revision: ModelServingRevision) -> None:
    first = encode_revision(revision)
    # the same revision built again from its JSON form, with keys in another order
    dumped = revision.model_dump(mode="json", exclude_unset=True)
    rebuilt = ModelServingRevision.model_validate(dict(reversed(list(dumped.items()))))
    second = encode_revision(rebuilt)
    assert first.manifest_bytes == second.manifest_bytes
    assert first.descriptor == second.descriptor
    assert [(d, c) for d, c in first.blobs] == [(d, c) for d, c in second.blobs]
    # and the encoding is a fixed point: decoding and encoding again changes nothing
    assert encode_revision(_decode(revision)).manifest_bytes == first.manifest_bytes


# ---- shape ------------------------------------------------------------------------------------------


def sample(**fields: Any) -> ModelServingRevision:
    base: dict[str, Any] = {
        "name": "fraud-detector",
        "version": "1.2.0+cu121",
        "model_definition": {"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        "service_configuration": {"runtime_variant": "vllm"},
    }
    return ModelServingRevision.model_validate({**base, **fields})


def test_manifest_shape_annotations_and_layer_order(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x00" * 1000)
    revision = sample(
        created_at=datetime(2025, 1, 20, 12, 30, tzinfo=UTC),
        created_by="alice",
        description="first",
        supersedes=DIGEST,
        extra_files=[describe_extra_file(weights, "assets/w.bin")],
    )
    encoded = encode_revision(revision)
    manifest = json.loads(encoded.manifest_bytes)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == MEDIA_TYPE_CONFIG
    assert [layer["annotations"][ANNOTATION_TITLE] for layer in manifest["layers"]] == [
        "model-definition.yaml",
        "deployment-config.yaml",
        "assets/w.bin",
    ]
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "fraud-detector",
        "org.opencontainers.image.version": "1.2.0+cu121",
        "org.opencontainers.image.created": "2025-01-20T12:30:00Z",
        "org.opencontainers.image.authors": "alice",
        "org.opencontainers.image.description": "first",
        ANNOTATION_SUPERSEDES: DIGEST,
        # the summary a filter reads without the config (revision/summary.py)
        "ai.backend.model-serving.labels": "{}",
        "ai.backend.model-serving.metrics": "{}",
        "ai.backend.model-serving.runtime-variant": "vllm",
    }
    assert encoded.manifest_bytes == canonical_json(manifest)
    assert encoded.descriptor.digest == digest_bytes(encoded.manifest_bytes)
    assert encoded.descriptor.artifact_type == ARTIFACT_TYPE
    # the extra file is streamed from disk, the rest is in memory
    assert encoded.blobs[-1][1] == weights
    assert all(isinstance(content, bytes) for _, content in encoded.blobs[:3])
    config = json.loads(encoded.blobs[0][1])  # type: ignore[arg-type]
    assert not {"id", "digest", "aliases"} & set(config)
    assert "source" not in config["extra_files"][0]


def test_yaml_layers_are_what_backend_ai_reads() -> None:
    encoded = encode_revision(sample())
    definition = encoded.blobs[1][1]
    assert isinstance(definition, bytes)
    text = definition.decode()
    assert "model_path: /models/m" in text
    assert "port: 8000" in text


def test_extra_file_without_digest_is_refused() -> None:
    with pytest.raises(InputError, match="describe_extra_file"):
        encode_revision(sample(extra_files=[{"path": "x.bin"}]))


def test_extra_file_without_source_is_referenced_not_carried() -> None:
    encoded = encode_revision(sample(extra_files=[{"path": "x.bin", "digest": DIGEST, "size": 3}]))
    assert [d.digest for d in encoded.referenced] == [DIGEST]
    assert DIGEST not in [d.digest for d, _ in encoded.blobs]


# ---- checks on what comes back from a registry ------------------------------------------------------


def _manifest_with(**changes: Any) -> ImageManifest:
    return encode_revision(sample()).manifest.model_copy(update=changes)


def test_check_artifact_rejects_other_content() -> None:
    image = ImageManifest(
        config=Descriptor(media_type="application/vnd.oci.image.config.v1+json", digest=DIGEST, size=2)
    )
    with pytest.raises(NotARevision, match="not a model serving revision"):
        check_artifact(image)
    with pytest.raises(NotARevision, match="artifactType"):
        check_artifact(_manifest_with(artifact_type="application/vnd.cncf.helm.chart"))
    check_artifact(_manifest_with(artifact_type=None))  # the config type alone identifies a revision


def test_decode_verifies_the_config_digest() -> None:
    encoded = encode_revision(sample())
    with pytest.raises(DigestMismatch):
        decode_revision(encoded.manifest, encoded.blobs[0][1][:-1] + b" ", digest=DIGEST)  # type: ignore[index]


def test_decode_rejects_a_record_that_is_not_a_revision() -> None:
    bad = canonical_json({"name": "UPPER", "version": "1", "model_definition": {}})
    manifest = _manifest_with(config=Descriptor.from_bytes(MEDIA_TYPE_CONFIG, bad))
    with pytest.raises(InvalidRevisionRecord, match="name"):
        decode_revision(manifest, bad, digest=DIGEST)


def test_decode_rejects_layers_that_disagree_with_the_record() -> None:
    encoded = encode_revision(sample())
    extra = Descriptor(
        media_type="application/octet-stream",
        digest=DIGEST,
        size=1,
        annotations={ANNOTATION_TITLE: "smuggled.bin"},
    )
    manifest = encoded.manifest.model_copy(update={"layers": [*encoded.manifest.layers, extra]})
    with pytest.raises(InvalidRevisionRecord, match="files do not match"):
        decode_revision(manifest, encoded.blobs[0][1], digest=DIGEST)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "title",
    [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "..\\..\\escape",
        "C:/Windows/x",
        "a\x00b",
        "",
        "a//b",
        "./a",
        "line\nbreak",
        "x" * 256,
    ],
)
def test_revision_files_rejects_each_unsafe_title(title: str) -> None:
    layers = list(encode_revision(sample()).manifest.layers)
    bad = Descriptor(
        media_type="application/octet-stream", digest=DIGEST, size=1, annotations={ANNOTATION_TITLE: title}
    )
    with pytest.raises(UnsafePath):
        revision_files(_manifest_with(layers=[*layers, bad]))


def test_revision_files_rejects_missing_title_and_duplicates() -> None:
    layers = list(encode_revision(sample()).manifest.layers)
    untitled = Descriptor(media_type="application/octet-stream", digest=DIGEST, size=1)
    with pytest.raises(UnsafePath, match=r"no org\.opencontainers\.image\.title"):
        revision_files(_manifest_with(layers=[*layers, untitled]))
    with pytest.raises(UnsafePath, match="collides"):
        revision_files(_manifest_with(layers=[*layers, layers[0]]))
    shadow = Descriptor(
        media_type="application/octet-stream",
        digest=DIGEST,
        size=1,
        annotations={ANNOTATION_TITLE: "Model-Definition.yaml"},
    )
    with pytest.raises(UnsafePath, match="collides"):
        revision_files(_manifest_with(layers=[*layers, shadow]))


def test_revision_files_lists_safe_paths_in_layer_order(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    encoded = encode_revision(sample(extra_files=[describe_extra_file(weights, "assets/w.bin")]))
    assert [name for name, _ in revision_files(encoded.manifest)] == [
        "model-definition.yaml",
        "deployment-config.yaml",
        "assets/w.bin",
    ]


def test_manifest_annotations_summarise_the_revision() -> None:
    """Labels, metrics, runtime variant, version, author and time read back from the manifest alone."""
    from datetime import UTC, datetime

    from msr_oci.revision.summary import summary_of

    revision = ModelServingRevision(
        name="fraud-detector",
        version="1.2.0",
        model_definition={"models": [{"name": "m", "model_path": "/models/m"}]},
        service_configuration={"image": "img", "runtime_variant": "vllm"},
        labels={"team": "risk", "stage": "canary"},
        metrics={"auc": 0.91, "latency_ms": 12},
        created_at=datetime(2025, 1, 20, 12, 30, tzinfo=UTC),
        created_by="alice",
    )
    encoded = encode_revision(revision)
    summary = summary_of(
        encoded.manifest.annotations, name="fraud-detector", digest=encoded.descriptor.digest
    )
    assert summary is not None
    assert (summary.version, summary.created_by, summary.runtime_variant) == ("1.2.0", "alice", "vllm")
    assert summary.labels == {"team": "risk", "stage": "canary"}
    assert summary.metrics == {"auc": 0.91, "latency_ms": 12.0}
    assert summary.created_at == revision.created_at
    # a manifest without them (v1, or hand-made) has no summary: the config decides
    bare = {k: v for k, v in (encoded.manifest.annotations or {}).items() if "model-serving" not in k}
    assert summary_of(bare, name="fraud-detector", digest=encoded.descriptor.digest) is None
    broken = {**(encoded.manifest.annotations or {}), "ai.backend.model-serving.metrics": '{"auc": "high"}'}
    assert summary_of(broken, name="fraud-detector", digest=encoded.descriptor.digest) is None
