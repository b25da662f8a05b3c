"""Reading revision directories: files, legacy TOML, revision.yaml, extra files, and error locations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import DATA as TEST_DATA
from support import EXAMPLES

from msr_oci.revision import RevisionInputError, RuntimeVariant, encode_revision
from msr_oci.revision.errors import Problem
from msr_oci.revision.loader import describe_extra_file, load_revision_dir, validate_revision_dir

DATA = TEST_DATA / "revisions"

DEFINITION = """\
models:
  - name: m
    model_path: /models/m
    service:
      start_command: serve
      port: 8000
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def load_error(root: Path, **kwargs: str) -> RevisionInputError:
    with pytest.raises(RevisionInputError) as caught:
        load_revision_dir(root, name=kwargs.pop("name", "m"), version="1.0.0", **kwargs)
    return caught.value


def test_minimal_directory() -> None:
    revision = load_revision_dir(DATA / "minimal", name="echo", version="1.0.0")
    assert revision.model_definition.models[0].service.port == 8000  # type: ignore[union-attr]
    assert revision.service_configuration.runtime_variant == RuntimeVariant.CUSTOM
    assert revision.extra_files == []


def test_older_kebab_case_shape() -> None:
    revision = load_revision_dir(DATA / "older-24.03", name="classifier", version="0.1.0")
    service = revision.model_definition.models[0].service
    assert service is not None
    # Backend.AI HEAD joins a list under start-command into one line
    assert service.start_command == "python serve.py"
    assert service.health_check is not None and service.health_check.enabled
    assert service.health_check.max_retries == 3


def test_bad_port_names_file_field_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": DEFINITION.replace("port: 8000", "port: 2000")})
    error = load_error(tmp_path)
    assert (error.file, error.field, error.line) == ("model-definition.yaml", "models[0].service.port", 6)
    assert "model-definition.yaml:6: models[0].service.port" in str(error)
    assert "2000 and 2001" in str(error)


def test_kebab_key_error_reports_the_line_of_the_kebab_key(tmp_path: Path) -> None:
    text = (
        "models:\n  - name: m\n    model-path: /m\n    service:\n      start-command: x\n      port: nope\n"
    )
    write(tmp_path, {"model-definition.yaml": text})
    error = load_error(tmp_path)
    assert (error.field, error.line) == ("models[0].service.port", 6)


def test_missing_field_names_the_field_and_how_to_fix(tmp_path: Path) -> None:
    write(
        tmp_path, {"model-definition.yaml": "models:\n  - model_path: /m\n    service:\n      port: 8000\n"}
    )
    error = load_error(tmp_path)
    assert (error.field, error.line) == ("models[0].name", 2)
    assert error.hint == "add 'name'"


def test_model_path_is_optional_at_head_and_required_by_26_4_3(tmp_path: Path) -> None:
    # HEAD fills model_path from the mount destination; 26.4.3's trafaret required it
    write(tmp_path, {"model-definition.yaml": "models:\n  - name: m\n    service:\n      port: 8000\n"})
    assert load_revision_dir(tmp_path, name="m", version="1").model_definition.models[0].model_path is None
    error = load_error(tmp_path, target="26.4.3")
    assert (error.field, error.line) == ("models[0].model_path", 2)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": "models:\n  - name: m\n   bad: [\n"})
    error = load_error(tmp_path)
    assert error.file == "model-definition.yaml" and error.line is not None and error.line >= 3


def test_deployment_config_errors_point_into_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "model-definition.yaml": DEFINITION,
            "deployment-config.yaml": "image: x\nruntime_variant: vllm\nreplicas: -2\n",
        },
    )
    error = load_error(tmp_path)
    assert (error.file, error.field, error.line) == ("deployment-config.yaml", "replicas", 3)


def test_missing_model_definition(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert error.file == "model-definition.yaml" and "not found" in str(error)


def test_every_error_is_collected(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "model-definition.yaml": DEFINITION.replace("port: 8000", "port: 1"),
            "deployment-config.yaml": "replicas: -1\n",
            "revision.yaml": "labelz: {}\n",
        },
    )
    problems = validate_revision_dir(tmp_path)
    assert {(p.file, p.field) for p in problems if p.severity == "error"} == {
        ("model-definition.yaml", "models[0].service.port"),
        ("deployment-config.yaml", "replicas"),
        ("revision.yaml", "labelz"),
    }


TOML = """\
[vllm]
environment = { image = "cr.backend.ai/stable/vllm:0.6", architecture = "x86_64" }
resource_slots = { cpu = 4, mem = "16g", "cuda.shares" = 1 }
environ = { A = "1" }

[sglang]
environment = { image = "cr.backend.ai/stable/sglang:0.3", architecture = "aarch64" }
"""


def test_legacy_toml_is_normalised(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": DEFINITION, "service-definition.toml": TOML})
    config = load_revision_dir(tmp_path, name="m", version="1", runtime_variant="vllm").service_configuration
    assert config.runtime_variant == RuntimeVariant.VLLM
    assert (config.image, config.architecture) == ("cr.backend.ai/stable/vllm:0.6", "x86_64")
    assert config.resource_slots == {"cpu": 4, "mem": "16g", "cuda.shares": 1}
    assert config.environ == {"A": "1"}
    other = load_revision_dir(tmp_path, name="m", version="1", runtime_variant="sglang").service_configuration
    assert (other.runtime_variant, other.architecture) == (RuntimeVariant.SGLANG, "aarch64")


def test_legacy_toml_with_several_variants_needs_a_choice(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": DEFINITION, "service-definition.toml": TOML})
    error = load_error(tmp_path)
    assert error.file == "service-definition.toml"
    assert "sglang, vllm" in str(error) and "--runtime-variant" in str(error)
    # Backend.AI 25.x ignores a file without the variant's table; msr loads it and says so
    warnings: list[Problem] = []
    load_revision_dir(tmp_path, name="m", version="1", runtime_variant="nim", warnings=warnings)
    assert any("no [nim] table" in w.message for w in warnings)


def test_per_variant_toml_without_environment_loads_and_warns_of_no_image(tmp_path: Path) -> None:
    # 25.x: `environment` is optional in a variant table (25.12.0 services/model_serving.py 188-206)
    write(
        tmp_path,
        {
            "model-definition.yaml": DEFINITION,
            "service-definition.toml": "[vllm]\nresource_slots = { cpu = 2 }\n",
        },
    )
    warnings: list[Problem] = []
    config = load_revision_dir(tmp_path, name="m", version="1", warnings=warnings).service_configuration
    assert (config.image, config.resource_slots, config.runtime_variant) == (None, {"cpu": 2}, "vllm")
    assert [(w.file, w.field) for w in warnings if "no image" in w.message] == [
        ("service-definition.toml", "environment.image")
    ]


def test_legacy_toml_syntax_error_has_a_line(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": DEFINITION, "service-definition.toml": "[vllm]\nx = = 1\n"})
    error = load_error(tmp_path)
    assert (error.file, error.line) == ("service-definition.toml", 2)


def test_revision_yaml_and_overrides(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "model-definition.yaml": DEFINITION,
            "revision.yaml": "description: d\nlabels: {team: risk}\nmetrics: {acc: 0.9}\n"
            "lineage: {run_id: r1}\n",
        },
    )
    revision = load_revision_dir(tmp_path, name="m", version="1", labels={"team": "ops"})
    assert (revision.description, revision.labels, revision.metrics) == ("d", {"team": "ops"}, {"acc": 0.9})
    assert revision.lineage.run_id == "r1"


def test_revision_yaml_value_error_points_into_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"model-definition.yaml": DEFINITION, "revision.yaml": "labels: {}\nmetrics:\n  acc: high\n"},
    )
    error = load_error(tmp_path)
    assert (error.file, error.field, error.line) == ("revision.yaml", "metrics.acc", 3)


def test_extra_files_are_collected_safely(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root = write(
        tmp_path / "rev",
        {
            "model-definition.yaml": DEFINITION,
            "tokenizer/tokenizer.json": "{}",
            "chat_template.jinja": "{{ messages }}",
            ".git/config": "x",
            ".env": "TOKEN=x",
        },
    )
    os.symlink(outside, root / "leak.txt")
    os.symlink(root / "chat_template.jinja", root / "alias.jinja")
    revision = load_revision_dir(root, name="m", version="1")
    assert [f.path for f in revision.extra_files] == [
        "alias.jinja",
        "chat_template.jinja",
        "tokenizer/tokenizer.json",
    ]
    assert revision.extra_files[2].source == root / "tokenizer/tokenizer.json"
    warnings = [p for p in validate_revision_dir(root) if p.severity == "warning"]
    assert [(p.file, "outside" in p.message) for p in warnings if "skipped" in p.message] == [
        ("leak.txt", True)
    ]


def test_describe_extra_file_hashes_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (3 * 1024 * 1024 + 5))
    described = describe_extra_file(path)
    assert (described.path, described.size) == ("big.bin", 3 * 1024 * 1024 + 5)
    import hashlib

    assert described.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_every_example_loads_validates_and_encodes(example: str) -> None:
    root = EXAMPLES / example
    assert validate_revision_dir(root) == []
    revision = load_revision_dir(root, name=example, version="1.0.0")
    encoded = encode_revision(revision)
    assert encoded.manifest.layers[0].title == "model-definition.yaml"
    assert revision.model_definition.models, example


def test_examples_cover_the_required_variants() -> None:
    variants = {
        load_revision_dir(EXAMPLES / d, name=d, version="1").service_configuration.runtime_variant
        for d in ("vllm-llama", "sglang-qwen", "tgi-mistral", "custom-http-server", "legacy-toml")
    }
    assert variants == {"vllm", "sglang", "huggingface-tgi", "custom"}
