"""How a revision is deployed: deployment-config.yaml plus the deployment API's settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, JsonValue, StringConstraints

from msr_oci.revision._base import BackendAIModel

__all__ = [
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
    VLLM = "vllm"
    SGLANG = "sglang"
    NIM = "nim"
    HUGGINGFACE_TGI = "huggingface-tgi"
    MODULAR_MAX = "modular-max"
    CMD = "cmd"
    CUSTOM = "custom"


class ClusterMode(StrEnum):
    SINGLE_NODE = "SINGLE_NODE"
    MULTI_NODE = "MULTI_NODE"


#: runtime variant -> (default port, default health check path); None where Backend.AI has none
_VARIANT_DEFAULTS: Final[dict[RuntimeVariant, tuple[int | None, str | None]]] = {
    RuntimeVariant.VLLM: (8000, "/health"),
    RuntimeVariant.SGLANG: (9001, "/health"),
    RuntimeVariant.NIM: (8000, "/v1/health/ready"),
    RuntimeVariant.HUGGINGFACE_TGI: (3000, "/info"),
    RuntimeVariant.MODULAR_MAX: (8000, "/health"),
    RuntimeVariant.CMD: (8000, None),
    RuntimeVariant.CUSTOM: (None, None),
}


def default_port(variant: RuntimeVariant | str) -> int | None:
    return _VARIANT_DEFAULTS[RuntimeVariant(variant)][0]


def default_health_path(variant: RuntimeVariant | str) -> str | None:
    return _VARIANT_DEFAULTS[RuntimeVariant(variant)][1]


Percent = Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")]
#: a replica count, or a percentage of the desired replicas such as "25%"
ReplicaDelta = Annotated[int, Field(ge=0)] | Percent


class RollingUpdate(BackendAIModel):
    type: Literal["rolling"] = "rolling"
    max_surge: ReplicaDelta = 1
    max_unavailable: ReplicaDelta = 0


class BlueGreen(BackendAIModel):
    type: Literal["blue-green"] = "blue-green"
    auto_promote: bool = False
    promote_delay_seconds: Annotated[int, Field(ge=0)] = 0


DeploymentStrategy = Annotated[RollingUpdate | BlueGreen, Field(discriminator="type")]


class ServiceConfiguration(BackendAIModel):
    image: str | None = None
    architecture: str | None = None
    #: e.g. {"cpu": 4, "mem": "32g", "cuda.shares": 2.5}
    resource_slots: dict[str, str | int | float] = Field(default_factory=dict)
    #: e.g. {"shmem": "2g"}
    resource_opts: dict[str, JsonValue] = Field(default_factory=dict)
    environ: dict[str, str] = Field(default_factory=dict)
    runtime_variant: RuntimeVariant = RuntimeVariant.CUSTOM
    replicas: Annotated[int, Field(ge=0)] = 1
    cluster_mode: ClusterMode = ClusterMode.SINGLE_NODE
    cluster_size: Annotated[int, Field(ge=1)] = 1
    model_mount_destination: str = "/models"
    deployment_strategy: DeploymentStrategy | None = None
