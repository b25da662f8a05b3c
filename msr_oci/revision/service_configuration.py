"""How a revision is deployed: deployment-config.yaml plus the deployment API's settings.

The value sets follow Backend.AI's (``common/types.py``, ``common/dto/manager/deployment/request.py``):
the runtime variant is an open string (admins add variants as database rows), cluster modes are
``single-node``/``multi-node``, a deployment strategy is ``{type: ROLLING|BLUE_GREEN, rolling_update,
blue_green}`` and the replica count is ``replica_count``. Older spellings are accepted on input.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AliasChoices, Field, JsonValue, StringConstraints, field_validator, model_validator

from msr_oci.revision._base import BackendAIModel

__all__ = [
    "BlueGreen",
    "ClusterMode",
    "DeploymentStrategy",
    "DeploymentStrategyType",
    "RollingUpdate",
    "RuntimeVariant",
    "ServiceConfiguration",
    "default_health_path",
    "default_port",
]


class RuntimeVariant(StrEnum):
    """The runtime variants Backend.AI ships; any other non-empty name is accepted too."""

    VLLM = "vllm"
    SGLANG = "sglang"
    NIM = "nim"
    HUGGINGFACE_TGI = "huggingface-tgi"
    MODULAR_MAX = "modular-max"
    CMD = "cmd"
    CUSTOM = "custom"


class ClusterMode(StrEnum):
    SINGLE_NODE = "single-node"
    MULTI_NODE = "multi-node"


class DeploymentStrategyType(StrEnum):
    ROLLING = "ROLLING"
    BLUE_GREEN = "BLUE_GREEN"


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


def default_port(variant: str) -> int | None:
    """The port Backend.AI assumes for a known variant; None for custom and variants it does not ship."""
    return _VARIANT_DEFAULTS.get(str(variant), (None, None))[0]


def default_health_path(variant: str) -> str | None:
    return _VARIANT_DEFAULTS.get(str(variant), (None, None))[1]


Percent = Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")]
#: a replica count, or a percentage of the desired replicas such as "25%"
ReplicaDelta = Annotated[int, Field(ge=0)] | Percent
RuntimeVariantName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]


class RollingUpdate(BackendAIModel):
    max_surge: ReplicaDelta = 1
    max_unavailable: ReplicaDelta = 0


class BlueGreen(BackendAIModel):
    auto_promote: bool = False
    promote_delay_seconds: Annotated[int, Field(ge=0)] = 0


_OLD_STRATEGY_TYPES: Final = {"rolling": "ROLLING", "blue-green": "BLUE_GREEN", "blue_green": "BLUE_GREEN"}
_OLD_STRATEGY_FIELDS: Final = {
    "ROLLING": ("rolling_update", ("max_surge", "max-surge", "max_unavailable", "max-unavailable")),
    "BLUE_GREEN": (
        "blue_green",
        ("auto_promote", "auto-promote", "promote_delay_seconds", "promote-delay-seconds"),
    ),
}


class DeploymentStrategy(BackendAIModel):
    type: DeploymentStrategyType = DeploymentStrategyType.ROLLING
    rolling_update: RollingUpdate | None = None
    blue_green: BlueGreen | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_old_shape(cls, data: Any) -> Any:
        """Old msr shape ``{type: rolling, max_surge: 1}`` -> ``{type: ROLLING, rolling_update: {...}}``."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return data
        kind = data["type"]
        kind = _OLD_STRATEGY_TYPES.get(kind, kind.upper() if kind.upper() in _OLD_STRATEGY_FIELDS else kind)
        section, flat_keys = _OLD_STRATEGY_FIELDS.get(kind, ("", ()))
        moved = {k: v for k, v in data.items() if k in flat_keys}
        if not moved:
            return {**data, "type": kind}
        rest = {k: v for k, v in data.items() if k not in flat_keys}
        nested = dict(rest.get(section) or {})
        return {**rest, "type": kind, section: {**moved, **nested}}


class ServiceConfiguration(BackendAIModel):
    image: str | None = None
    architecture: str | None = None
    #: e.g. {"cpu": 4, "mem": "32g", "cuda.shares": 2.5}
    resource_slots: dict[str, str | int | float] = Field(default_factory=dict)
    #: e.g. {"shmem": "2g"}
    resource_opts: dict[str, JsonValue] = Field(default_factory=dict)
    environ: dict[str, str] = Field(default_factory=dict)
    #: an open string: Backend.AI's known variants or one an administrator added
    runtime_variant: RuntimeVariantName = RuntimeVariant.CUSTOM.value
    replica_count: Annotated[int, Field(ge=0)] = Field(
        default=1, validation_alias=AliasChoices("replica_count", "replicas", "desired_session_count")
    )
    cluster_mode: ClusterMode = ClusterMode.SINGLE_NODE
    cluster_size: Annotated[int, Field(ge=1)] = 1
    model_mount_destination: str = "/models"
    deployment_strategy: DeploymentStrategy | None = None

    @field_validator("cluster_mode", mode="before")
    @classmethod
    def _cluster_mode_any_spelling(cls, value: Any) -> Any:
        # Backend.AI accepts SINGLE_NODE, single_node, Single-Node, ...
        return value.strip().lower().replace("_", "-") if isinstance(value, str) else value
