"""model-definition.yaml as Backend.AI HEAD reads it (ai.backend.common.config, lablup/backend.ai
c0032c472e): a partial draft whose unset keys come from lower layers."""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Final

from pydantic import AliasChoices, Field, JsonValue, field_validator, model_validator

from msr_oci.revision._base import BackendAIModel

__all__ = [
    "ModelConfig",
    "ModelDefinition",
    "ModelHealthCheck",
    "ModelMetadata",
    "ModelServiceConfig",
    "PreStartAction",
    "resolve_start_command",
]

#: ports the Backend.AI agent keeps for itself inside a model service container (it refuses them at start)
RESERVED_PORTS: Final = frozenset({2000, 2001})
COMMAND_KEYS: Final = ("command", "start_command", "start-command")


def resolve_start_command(service: dict[str, Any]) -> dict[str, Any]:
    """Backend.AI's order (common/model_service_start_command_compat.py): ``command`` unless null, else
    ``start_command``, else ``start-command``; a list under the latter two is shell-joined, a list
    under ``command`` is refused."""
    result = {k: v for k, v in service.items() if k not in COMMAND_KEYS}
    command = service.get("command")
    if isinstance(command, list):
        raise ValueError(
            "'command' must be a string; Backend.AI refuses a list there (use 'start_command' for a list)"
        )
    if command is None:
        command = service.get("start_command", service.get("start-command"))
        if isinstance(command, list) and all(isinstance(item, str) for item in command):
            command = shlex.join(command)
    if command is not None or "start_command" in service or "start-command" in service:
        result["start_command"] = command
    return result


class PreStartAction(BackendAIModel):
    action: str
    args: dict[str, JsonValue] = Field(default_factory=dict)


class ModelHealthCheck(BackendAIModel):
    #: only since Backend.AI 26.4.4; a block written without it means "check"
    enable: bool | None = None
    interval: float = 10.0
    path: str = "/health"
    max_retries: int = 10
    max_wait_time: float = 15.0
    expected_status_code: Annotated[int, Field(gt=100)] = 200
    initial_delay: Annotated[float, Field(ge=0)] = 60.0

    @property
    def enabled(self) -> bool:
        return self.enable if self.enable is not None else bool(self.model_fields_set)


class ModelServiceConfig(BackendAIModel):
    pre_start_actions: list[PreStartAction] | None = Field(default_factory=list)
    #: one command line (Backend.AI HEAD's form); ``{model_path}`` is filled in at start
    start_command: str | None = None
    #: the command runs as ``[shell, "-c", command]``; ``None`` runs it directly
    shell: str | None = "/bin/bash"
    port: int
    health_check: ModelHealthCheck | None = None

    @model_validator(mode="before")
    @classmethod
    def _command_order(cls, data: Any) -> Any:
        return resolve_start_command(dict(data)) if isinstance(data, dict) else data

    @field_validator("port")
    @classmethod
    def _usable_port(cls, port: int) -> int:
        if not 1 < port <= 65535:
            raise ValueError("must be a TCP port between 2 and 65535")
        if port in RESERVED_PORTS:
            raise ValueError(
                "ports 2000 and 2001 are used by the Backend.AI agent, which refuses them at start; "
                "pick another port"
            )
        return port

    def command_line(self, model_path: str) -> str | None:
        """The start command as one line, with ``{model_path}`` filled in (as Backend.AI runs it)."""
        if self.start_command is None:
            return None
        return self.start_command.replace("{model_path}", model_path)


class ModelMetadata(BackendAIModel):
    author: str | None = None
    title: str | None = None
    description: str | None = None
    task: str | None = None
    category: str | None = None
    architecture: str | None = None
    framework: list[str] | None = None
    label: list[str] | None = None
    license: str | None = None
    version: int | str | None = None
    created: str | None = Field(default=None, validation_alias=AliasChoices("created", "created_at"))
    last_modified: str | None = Field(
        default=None, validation_alias=AliasChoices("last_modified", "modified_at")
    )
    min_resource: dict[str, JsonValue] | None = None


class ModelConfig(BackendAIModel):
    name: str
    #: optional in the file: Backend.AI fills it from the model mount destination
    model_path: str | None = None
    service: ModelServiceConfig | None = None
    metadata: ModelMetadata | None = None


class ModelDefinition(BackendAIModel):
    models: list[ModelConfig] = Field(default_factory=list)
