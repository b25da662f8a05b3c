"""A deployment strategy as each Backend.AI API writes it (render.py builds the rest of the request).

Pure. Shapes read from lablup/backend.ai c0032c472e (see render.py for the files).
"""

from __future__ import annotations

import math
from typing import Any

from msr_oci.revision.service_configuration import DeploymentStrategy

__all__ = ["strategy_v1", "strategy_v2"]


def _replicas_of(value: int | str, replicas: int, *, round_up: bool) -> int:
    """v1 takes counts only: a percentage becomes a count the way Kubernetes rounds it."""
    if isinstance(value, int):
        return value
    exact = replicas * int(value.rstrip("%")) / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def strategy_v1(strategy: DeploymentStrategy | None, replicas: int) -> dict[str, Any]:
    """``deployment_strategy`` as the v1 API takes it (counts only)."""
    if strategy is None or strategy.type == "ROLLING":
        rolling = strategy.rolling_update if strategy is not None else None
        surge = rolling.max_surge if rolling is not None else 1
        unavailable = rolling.max_unavailable if rolling is not None else 0
        return {
            "type": "ROLLING",
            "rolling_update": {
                "max_surge": _replicas_of(surge, replicas, round_up=True),
                "max_unavailable": _replicas_of(unavailable, replicas, round_up=False),
            },
        }
    blue_green = strategy.blue_green
    return {
        "type": "BLUE_GREEN",
        "blue_green": {
            "auto_promote": blue_green.auto_promote if blue_green else False,
            "promote_delay_seconds": blue_green.promote_delay_seconds if blue_green else 0,
        },
    }


def _int_or_percent(value: int | str) -> dict[str, Any]:
    if isinstance(value, int):
        return {"count": value}
    return {"percent": int(value.rstrip("%")) / 100}


def strategy_v2(strategy: DeploymentStrategy | None) -> dict[str, Any]:
    """``deployment_strategy`` as the v2 API takes it (a count or a fraction each)."""
    if strategy is not None and strategy.type == "BLUE_GREEN":
        return strategy_v1(strategy, 0)
    rolling = strategy.rolling_update if strategy is not None else None
    if rolling is None:  # the user set none: Backend.AI's v2 default (50% / 0%) applies
        return {"type": "ROLLING"}
    return {
        "type": "ROLLING",
        "rolling_update": {
            "max_surge": _int_or_percent(rolling.max_surge),
            "max_unavailable": _int_or_percent(rolling.max_unavailable),
        },
    }
