"""How a revision is deployed: the service configuration file's keys plus the deployment API's settings,
with Backend.AI's own value sets (common/types.py, common/dto/manager/deployment/request.py at
lablup/backend.ai c0032c472e)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AliasChoices, Field, JsonValue, StringConstraints, field_validator, model_validator

from msr_oci.revision._base import BackendAIModel

__all__ = [
    "FILE_KEYS",
    "BlueGreen",
    "ClusterMode",
    "DeploymentStrategy",
    "RollingUpdate",
    "RuntimeVariant",
    "ServiceConfiguration",
    "default_health_path",
    "default_port",
]


class RuntimeVariant(StrEnum):
    """The runtime variants Backend.AI ships; the field itself is an open string (admins add rows)."""

    VLLM = "vllm"
    SGLANG = "sglang"
    NIM = "nim"
    HUGGINGFACE_TGI = "huggingface-tgi"
    MODULAR_MAX = "modular-max"
    CMD = "cmd"
    CUSTOM = "custom"


ClusterMode = Literal["single-node", "multi-node"]

#: runtime variant -> (default port, default health check path); None where Backend.AI has none
_VARIANT_DEFAULTS: Final[dict[str, tuple[int | None, str | None]]] = {
    RuntimeVariant.VLLM: (8000, "/health"),
    RuntimeVariant.SGLANG: (9001, "/health"),
    RuntimeVariant.NIM: (8000, "/v1/health/ready"),
    RuntimeVariant.HUGGINGFACE_TGI: (3000, "/info"),
    RuntimeVariant.MODULAR_MAX: (8000, "/health"),
    RuntimeVariant.CMD: (8000, None),
    RuntimeVariant.CUSTOM: (None, None),
}

#: the keys Backend.AI itself reads from deployment-config.yaml / service-definition.toml (HEAD);
#: the others are request fields that msr carries for `msr render`
FILE_KEYS: Final = frozenset({"image", "architecture", "resource_slots", "resource_opts", "environ"})


def default_port(variant: str) -> int | None:
    return _VARIANT_DEFAULTS.get(variant, (None, None))[0]


def default_health_path(variant: str) -> str | None:
    return _VARIANT_DEFAULTS.get(variant, (None, None))[1]


Percent = Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")]
#: a replica count, or a percentage of the desired replicas such as "25%"
ReplicaDelta = Annotated[int, Field(ge=0)] | Percent


class RollingUpdate(BackendAIModel):
    max_surge: ReplicaDelta = 1
    max_unavailable: ReplicaDelta = 0


class BlueGreen(BackendAIModel):
    auto_promote: bool = False
    promote_delay_seconds: Annotated[int, Field(ge=0)] = 0


_ROLLING_KEYS: Final = ("max_surge", "max_unavailable")
_BLUE_GREEN_KEYS: Final = ("auto_promote", "promote_delay_seconds")


class DeploymentStrategy(BackendAIModel):
    """``{type: ROLLING|BLUE_GREEN, rolling_update, blue_green}``; the flat shape of msr <= 0.1
    (``{type: rolling, max_surge, ...}``) is read too."""

    type: Literal["ROLLING", "BLUE_GREEN"] = "ROLLING"
    rolling_update: RollingUpdate | None = None
    blue_green: BlueGreen | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k.replace("-", "_") if isinstance(k, str) else k: v for k, v in data.items()}
        kind = data.get("type")
        if isinstance(kind, str):
            data["type"] = kind.upper().replace("-", "_")
        for section, keys in (("rolling_update", _ROLLING_KEYS), ("blue_green", _BLUE_GREEN_KEYS)):
            moved = {key: data.pop(key) for key in keys if key in data}
            if moved:
                data[section] = {**moved, **(data.get(section) or {})}
        return data


class ServiceConfiguration(BackendAIModel):
    image: str | None = None
    architecture: str | None = None
    #: e.g. {"cpu": 4, "mem": "32g", "cuda.shares": 2.5}
    resource_slots: dict[str, str | int | float] = Field(default_factory=dict)
    #: e.g. {"shmem": "2g"}
    resource_opts: dict[str, JsonValue] = Field(default_factory=dict)
    environ: dict[str, str] = Field(default_factory=dict)
    # request fields (Backend.AI never reads them from the file)
    runtime_variant: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "custom"
    replica_count: Annotated[int, Field(ge=0)] = Field(
        default=1, validation_alias=AliasChoices("replica_count", "replicas", "desired_session_count")
    )
    cluster_mode: ClusterMode = "single-node"
    cluster_size: Annotated[int, Field(ge=1)] = 1
    model_mount_destination: str = "/models"
    deployment_strategy: DeploymentStrategy | None = None

    @field_validator("cluster_mode", mode="before")
    @classmethod
    def _cluster_mode(cls, value: Any) -> Any:
        # Backend.AI accepts SINGLE_NODE, single-node, Single_Node...
        return value.lower().replace("_", "-") if isinstance(value, str) else value

    @property
    def replicas(self) -> int:
        return self.replica_count
