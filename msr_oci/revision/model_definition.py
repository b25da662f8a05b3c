"""model-definition.yaml exactly as Backend.AI reads it (ai.backend.common.config), older shapes too."""

from __future__ import annotations

import shlex
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, Field, JsonValue, field_validator, model_validator

from msr_oci.revision._base import BackendAIModel

__all__ = [
    "ModelConfig",
    "ModelDefinition",
    "ModelHealthCheck",
    "ModelMetadata",
    "ModelServiceConfig",
    "PreStartAction",
]

#: ports the Backend.AI agent keeps for itself inside a model service container
RESERVED_PORTS = frozenset({2000, 2001})


class PreStartAction(BackendAIModel):
    action: str
    args: dict[str, JsonValue] = Field(default_factory=dict)


class ModelHealthCheck(BackendAIModel):
    enable: bool = False
    interval: float = 10.0
    path: str = "/health"
    max_retries: int = 10
    max_wait_time: float = 15.0
    expected_status_code: Annotated[int, Field(gt=100)] = 200
    initial_delay: Annotated[float, Field(ge=0)] = 60.0

    @model_validator(mode="before")
    @classmethod
    def _enabled_when_configured(cls, data: Any) -> Any:
        # Backend.AI: writing a health check block at all means "check"; an empty block means "don't"
        if data is None:
            return {"enable": False}
        if isinstance(data, dict) and data and "enable" not in data:
            return {**data, "enable": True}
        return data


class ModelServiceConfig(BackendAIModel):
    keep_none: ClassVar[frozenset[str]] = frozenset({"shell"})

    pre_start_actions: list[PreStartAction] = Field(default_factory=list)
    #: a command line, or an argv list (24.03 required the list form)
    start_command: str | list[str] | None = None
    #: the command runs as ``[shell, "-c", command]``; ``None`` runs it directly
    shell: str | None = "/bin/bash"
    port: int
    health_check: ModelHealthCheck | None = None

    @model_validator(mode="before")
    @classmethod
    def _command_aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data = _resolve_start_command(data)
            if data.get("pre_start_actions", []) is None:
                data["pre_start_actions"] = []  # every Backend.AI release reads null as "none"
            if data.get("pre-start-actions", []) is None:
                data["pre-start-actions"] = []
            if "health_check" in data and data["health_check"] is None:
                data["health_check"] = {"enable": False}
            if "health-check" in data and data["health-check"] is None:
                data["health-check"] = {"enable": False}
        return data

    @field_validator("port")
    @classmethod
    def _usable_port(cls, port: int) -> int:
        if not 1 < port <= 65535:
            raise ValueError("must be a TCP port between 2 and 65535")
        if port in RESERVED_PORTS:
            raise ValueError("ports 2000 and 2001 are used by the Backend.AI agent; pick another port")
        return port

    def command_line(self, model_path: str) -> str | None:
        """The start command as one line, with ``{model_path}`` filled in (as Backend.AI runs it)."""
        if self.start_command is None:
            return None
        line = self.start_command if isinstance(self.start_command, str) else shlex.join(self.start_command)
        return line.replace("{model_path}", model_path)


def _resolve_start_command(data: dict[str, Any]) -> dict[str, Any]:
    """Backend.AI HEAD's order (``model_service_start_command_compat.py``): ``command`` when not
    null, else ``start_command``, else ``start-command``. A list under ``command`` is rejected; a list
    under the other two is one argv (kept as a list: 24.09 and older read only that form)."""
    command = data.pop("command", None)
    snake = data.pop("start_command", None)
    kebab = data.pop("start-command", None)
    if command is not None and not isinstance(command, str):
        raise ValueError("'command' must be a string (Backend.AI rejects a list there; use start_command)")
    chosen = next((value for value in (command, snake, kebab) if value is not None), None)
    if chosen is not None:
        data["start_command"] = chosen
    return data


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
    #: Backend.AI HEAD fills a missing path from the mount destination (``/models``)
    model_path: str | None = None
    service: ModelServiceConfig | None = None
    metadata: ModelMetadata | None = None


class ModelDefinition(BackendAIModel):
    models: list[ModelConfig] = Field(default_factory=list)
