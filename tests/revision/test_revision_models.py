"""The Backend.AI models: kebab/snake keys, unknown keys, older shapes, health check rule, errors."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from msr_oci.revision import (
    BlueGreen,
    ImmutableRecord,
    InvalidRevision,
    ModelDefinition,
    ModelServiceConfig,
    ModelServingRevision,
    RollingUpdate,
    RuntimeVariant,
    ServiceConfiguration,
    default_health_path,
    default_port,
)


def service(**fields: Any) -> ModelServiceConfig:
    return ModelServiceConfig.model_validate({"port": 8000, **fields})


def test_kebab_and_snake_keys_read_the_same_and_write_snake() -> None:
    kebab = ModelDefinition.model_validate(
        {"models": [{"name": "m", "model-path": "/m", "service": {"start-command": "run", "port": 8000}}]}
    )
    snake = ModelDefinition.model_validate(
        {"models": [{"name": "m", "model_path": "/m", "service": {"start_command": "run", "port": 8000}}]}
    )
    assert kebab == snake
    document = kebab.to_document()
    assert document["models"][0]["model_path"] == "/m"
    assert document["models"][0]["service"]["start_command"] == "run"
    assert "model-path" not in document["models"][0]


def test_command_wins_over_start_command() -> None:
    config = service(command="from-command", start_command="from-start-command")
    assert config.start_command == "from-command"
    assert "command" not in config.to_document()


def test_unknown_keys_are_kept_and_written_back() -> None:
    definition = ModelDefinition.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "model_path": "/m",
                    "future-field": {"a": 1},
                    "service": {"port": 8000, "gpu_sharing": "mig"},
                }
            ],
            "x-vendor": "kept",
        }
    )
    document = definition.to_document()
    assert document["x-vendor"] == "kept"
    assert document["models"][0]["future-field"] == {"a": 1}
    assert document["models"][0]["service"]["gpu_sharing"] == "mig"
    assert ModelDefinition.model_validate(document) == definition


def test_health_check_block_without_enable_means_enabled() -> None:
    assert service(health_check={"path": "/ready"}).health_check.enabled  # type: ignore[union-attr]
    assert not service(health_check={"path": "/ready", "enable": False}).health_check.enabled  # type: ignore[union-attr]
    assert not service(health_check={}).health_check.enabled  # type: ignore[union-attr]
    assert service(health_check=None).health_check is None
    assert service().health_check is None
    # nothing is written back: `enable` exists only since 26.4.4, and older releases refuse the key
    assert "enable" not in service(health_check={"path": "/ready"}).to_document()["health_check"]


def test_health_check_defaults_match_backend_ai() -> None:
    check = service(health_check={"enable": True}).health_check
    assert check is not None
    assert (check.interval, check.path, check.max_retries, check.max_wait_time) == (10.0, "/health", 10, 15.0)
    assert (check.expected_status_code, check.initial_delay) == (200, 60.0)


def test_shell_null_disables_wrapping_and_survives_serialization() -> None:
    config = service(shell=None, start_command=["vllm", "serve", "{model_path}"])
    assert config.to_document()["shell"] is None
    assert ModelServiceConfig.model_validate(config.to_document()).shell is None
    line = config.command_line("/models/x")
    assert line is not None and shlex.split(line) == ["vllm", "serve", "/models/x"]
    assert service().shell == "/bin/bash"


def test_older_shapes_are_accepted() -> None:
    # 24.03: list start_command, explicit health_check.path; 25.x: string start_command
    old = service(start_command=["python", "serve.py"], health_check={"path": "/healthz"})
    assert old.start_command == "python serve.py"
    newer = service(start_command="python serve.py")
    assert newer.command_line("/m") == "python serve.py"


@pytest.mark.parametrize(
    ("port", "message"),
    [(2000, "2000 and 2001"), (2001, "2000 and 2001"), (1, "between 2 and 65535"), (70000, "between")],
)
def test_invalid_port_names_the_field_path(port: int, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ModelDefinition.model_validate(
            {"models": [{"name": "m", "model_path": "/m", "service": {"port": port}}]}
        )
    error = caught.value.errors()[0]
    assert error["loc"] == ("models", 0, "service", "port")
    assert message in error["msg"]


def test_expected_status_code_must_exceed_100() -> None:
    with pytest.raises(ValidationError):
        service(health_check={"expected_status_code": 99})


def test_metadata_aliases() -> None:
    definition = ModelDefinition.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "model_path": "/m",
                    "metadata": {"created_at": "2024-01-01", "modified-at": "2024-02-01", "version": 3},
                }
            ]
        }
    )
    metadata = definition.models[0].metadata
    assert metadata is not None
    assert (metadata.created, metadata.last_modified, metadata.version) == ("2024-01-01", "2024-02-01", 3)


def test_service_configuration_defaults_and_strategies() -> None:
    config = ServiceConfiguration()
    assert config.runtime_variant == RuntimeVariant.CUSTOM
    assert (config.replica_count, config.cluster_size, config.model_mount_destination) == (1, 1, "/models")
    assert config.cluster_mode == "single-node"
    # the flat shape of msr <= 0.1 reads into Backend.AI's {type, rolling_update, blue_green}
    rolling = ServiceConfiguration.model_validate(
        {"deployment_strategy": {"type": "rolling", "max_surge": "25%", "max_unavailable": 1}}
    )
    assert rolling.deployment_strategy is not None and rolling.deployment_strategy.type == "ROLLING"
    assert rolling.deployment_strategy.rolling_update == RollingUpdate(max_surge="25%", max_unavailable=1)
    blue_green = ServiceConfiguration.model_validate({"deployment-strategy": {"type": "blue-green"}})
    assert blue_green.deployment_strategy is not None and blue_green.deployment_strategy.type == "BLUE_GREEN"
    native = ServiceConfiguration.model_validate(
        {"deployment_strategy": {"type": "BLUE_GREEN", "blue_green": {"auto_promote": True}}}
    )
    assert native.deployment_strategy is not None
    assert native.deployment_strategy.blue_green == BlueGreen(auto_promote=True)


@pytest.mark.parametrize(
    ("given", "field", "value"),
    [
        ({"replicas": 3}, "replica_count", 3),
        ({"desired_session_count": 2}, "replica_count", 2),
        ({"cluster_mode": "SINGLE_NODE"}, "cluster_mode", "single-node"),
        ({"cluster_mode": "Multi_Node"}, "cluster_mode", "multi-node"),
        ({"runtime_variant": "triton"}, "runtime_variant", "triton"),  # an admin-added variant
    ],
)
def test_service_configuration_reads_backend_ai_spellings(
    given: dict[str, Any], field: str, value: Any
) -> None:
    assert getattr(ServiceConfiguration.model_validate(given), field) == value


@pytest.mark.parametrize(
    "bad",
    [
        {"replicas": -1},
        {"cluster_size": 0},
        {"cluster_mode": "TWO_NODES"},
        {"runtime_variant": ""},
        {"deployment_strategy": {"type": "canary"}},
        {"deployment_strategy": {"type": "rolling", "max_surge": "150%"}},
        {"environ": {"A": 1}},
    ],
)
def test_service_configuration_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ServiceConfiguration.model_validate(bad)


def test_runtime_variant_defaults_table() -> None:
    assert (default_port("vllm"), default_health_path("vllm")) == (8000, "/health")
    assert (default_port("sglang"), default_health_path("sglang")) == (9001, "/health")
    assert default_health_path(RuntimeVariant.NIM) == "/v1/health/ready"
    assert (default_port("huggingface-tgi"), default_health_path("huggingface-tgi")) == (3000, "/info")
    assert (default_port("cmd"), default_health_path("cmd")) == (8000, None)
    assert (default_port("custom"), default_health_path("custom")) == (None, None)


def minimal(**fields: Any) -> ModelServingRevision:
    return ModelServingRevision.model_validate(
        {"name": "m", "version": "1.0.0", "model_definition": {"models": []}, **fields}
    )


@pytest.mark.parametrize("name", ["Upper", "a/b", "-a", "a..b", "", "a" * 129])
def test_revision_name_must_be_a_repository_component(name: str) -> None:
    with pytest.raises(InvalidRevision, match="lowercase"):
        minimal(name=name)


@pytest.mark.parametrize("version", ["", "1_0", "+1", "-1", "a b", "1" * 129])
def test_revision_version_must_be_tag_safe(version: str) -> None:
    with pytest.raises(InvalidRevision):
        minimal(version=version)


def test_timestamps_must_be_aware_and_are_normalised_to_utc() -> None:
    with pytest.raises(InvalidRevision, match="timezone"):
        minimal(created_at=datetime(2025, 1, 1))
    seoul = timezone(timedelta(hours=9))
    revision = minimal(created_at=datetime(2025, 1, 1, 9, tzinfo=seoul))
    assert revision.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert revision.created_at.tzinfo is UTC  # type: ignore[union-attr]
    assert revision.model_dump(mode="json")["created_at"] == "2025-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "a\x00b", "", "model-definition.yaml"]
)
def test_extra_file_paths_must_be_safe(path: str) -> None:
    with pytest.raises(InvalidRevision):
        minimal(extra_files=[{"path": path}])


def test_extra_file_paths_must_not_collide() -> None:
    with pytest.raises(InvalidRevision, match="collides"):
        minimal(extra_files=[{"path": "README"}, {"path": "readme"}])
    with pytest.raises(InvalidRevision, match="cannot also be a directory"):
        minimal(extra_files=[{"path": "a"}, {"path": "a/b"}])


def test_metrics_must_be_finite() -> None:
    with pytest.raises(InvalidRevision):
        minimal(metrics={"loss": float("nan")})


def test_unknown_revision_field_is_refused() -> None:
    with pytest.raises(InvalidRevision, match="labelz"):
        minimal(labelz={"a": "b"})


def test_a_bad_revision_is_a_typed_input_error_and_revisions_are_immutable() -> None:
    from msr_oci.errors import InputError

    with pytest.raises(InputError) as caught:
        minimal(name="Bad Name")
    assert caught.value.exit_code == 2 and "name" in str(caught.value)
    revision = minimal()
    # frozen, with the library's own error (an AttributeError too): change it with model_copy(update=...)
    with pytest.raises(ImmutableRecord, match=r"ModelServingRevision\.labels cannot be assigned") as frozen:
        revision.labels = {"a": "b"}  # type: ignore[misc]
    assert isinstance(frozen.value, AttributeError) and frozen.value.exit_code == 2
    with pytest.raises(ImmutableRecord, match=r"Lineage\.parent"):
        revision.lineage.parent = "other:1.0.0"  # type: ignore[misc]
    assert revision.labels == {} and revision.lineage.parent is None
    # a dict put in through model_copy converts at the registry's boundary, or is a typed error
    copied = revision.model_copy(update={"service_configuration": {"image": "x:1", "replicas": 3}})
    checked = ModelServingRevision.checked(copied)
    assert checked.service_configuration.replica_count == 3
    with pytest.raises(InvalidRevision, match="service_configuration"):
        ModelServingRevision.checked(
            revision.model_copy(update={"service_configuration": {"replica_count": -1}})
        )
