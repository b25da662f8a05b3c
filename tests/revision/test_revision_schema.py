"""The checked-in JSON Schemas are generated from the models and must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

from support import ROOT

from msr_oci.revision.schema import SCHEMA_DIR, main, render_schemas, stale_schemas


def test_checked_in_schemas_are_current() -> None:
    assert stale_schemas() == [], "run: python -m msr_oci.revision.schema --write"


def test_check_detects_a_stale_schema(tmp_path: Path) -> None:
    assert main(["--write", "--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "model-definition.schema.json").write_text("{}\n")
    assert main(["--check", "--dir", str(tmp_path)]) == 1


def test_config_schema_describes_only_stored_fields() -> None:
    schema = json.loads(render_schemas()["revision-config.schema.json"])
    assert {"name", "version", "model_definition", "service_configuration"} <= set(schema["properties"])
    assert not {"id", "digest", "aliases"} & set(schema["properties"])
    assert "source" not in schema["$defs"]["ExtraFile"]["properties"]
    # the generated revision schemas, plus the hand-written Backend.AI request schemas of `msr render`
    generated = sorted(p.name for p in SCHEMA_DIR.glob("*.json") if not p.name.startswith("backendai-"))
    assert generated == sorted(render_schemas())


def test_artifact_format_doc_shows_the_manifest_the_codec_produces() -> None:
    from datetime import UTC, datetime

    from msr_oci.revision import encode_revision
    from msr_oci.revision.loader import load_revision_dir

    root = ROOT
    when = datetime(2025, 1, 20, 12, 30, tzinfo=UTC)
    revision = load_revision_dir(
        root / "examples" / "vllm-llama",
        name="llama-3.1-8b-instruct",
        version="1.0.0+cu124",
        created_by="alice",
        created_at=when,
        updated_at=when,
    )
    encoded = encode_revision(revision)
    doc = (root / "docs" / "artifact-format.md").read_text()
    pretty = json.dumps(json.loads(encoded.manifest_bytes), indent=2)
    assert pretty in doc, "update the manifest example in docs/artifact-format.md"
    assert f"`{encoded.descriptor.digest}` ({encoded.descriptor.size} bytes)" in doc
