"""The service configuration shapes Backend.AI has read, release by release, normalised to one flat view.

- HEAD (>= 26.4.4): ``deployment-config.yaml`` or ``service-definition.toml``, flat (``image``, ...).
- 26.1 - 26.4.2: ``deployment-config.yaml`` with ``environment: {image, architecture}`` plus
  per-variant sections (``vllm:``) merged field by field over the root (26.4.0
  manager/sokovan/deployment/revision_generator/base.py).
- 25.x and older: ``service-definition.toml``, one table per runtime variant, ``environment`` optional,
  a missing variant silently ignored (25.12.0 manager/services/model_serving/services/model_serving.py).

Pure: parsed documents in, a flat mapping and notes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from msr_oci.revision.service_configuration import RuntimeVariant

__all__ = ["FlatConfiguration", "flatten_service_configuration"]

Shape = Literal["flat", "nested", "per-variant"]

#: root keys that mark a flat or nested file (a per-variant TOML holds only variant tables)
_ROOT_KEYS: Final = frozenset(
    {"image", "architecture", "resource_slots", "resource_opts", "environ", "environment", "runtime_variant"}
)
_KNOWN_VARIANTS: Final = frozenset(v.value for v in RuntimeVariant)


@dataclass
class FlatConfiguration:
    shape: Shape
    data: dict[str, Any]
    #: the variant section that was applied, if any
    variant: str | None = None
    notes: list[str] = field(default_factory=list)
    #: a problem that stops the file being read (message, hint)
    error: tuple[str, str] | None = None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _lift_environment(data: dict[str, Any]) -> dict[str, Any]:
    environment = data.get("environment")
    if not isinstance(environment, dict):
        return data
    lifted = {k: v for k, v in data.items() if k != "environment"}
    for key in ("image", "architecture"):
        if key in environment:
            lifted[key] = environment[key]
    return lifted


def _variant_sections(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in data.items() if isinstance(v, dict) and k in _KNOWN_VARIANTS}


def flatten_service_configuration(
    data: dict[str, Any], *, toml: bool, runtime_variant: str | None
) -> FlatConfiguration:
    """One flat mapping (``image``, ``resource_slots``, ...) from any shape Backend.AI has read."""
    keys = {k.replace("-", "_") if isinstance(k, str) else k for k in data}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if toml and not keys & _ROOT_KEYS and tables:
        return _per_variant(tables, runtime_variant)
    sections = _variant_sections(data)
    nested = isinstance(data.get("environment"), dict) or bool(sections)
    if not nested:
        return FlatConfiguration("flat", dict(data))
    root = {k: v for k, v in data.items() if k not in sections}
    variant = runtime_variant or (
        root.get("runtime_variant") if isinstance(root.get("runtime_variant"), str) else None
    )
    result = FlatConfiguration("nested", root)
    if variant is None and len(sections) == 1:
        variant = next(iter(sections))
    if variant in sections:
        result.data = _merge(root, sections[variant])
        result.variant = variant
    elif sections:
        result.notes.append(
            f"sections for {', '.join(sorted(sections))} were not applied: no runtime variant chosen"
        )
    result.data = _lift_environment(result.data)
    if result.variant is not None and "runtime_variant" not in result.data:
        result.data["runtime_variant"] = result.variant
    return result


def _per_variant(tables: dict[str, dict[str, Any]], runtime_variant: str | None) -> FlatConfiguration:
    if runtime_variant is None and len(tables) > 1:
        return FlatConfiguration(
            "per-variant",
            {},
            error=(
                f"defines several runtime variants ({', '.join(sorted(tables))})",
                "choose one with --runtime-variant",
            ),
        )
    variant = runtime_variant if runtime_variant is not None else next(iter(tables))
    if variant not in tables:
        # Backend.AI 25.x silently ignores the file then; say so instead
        result = FlatConfiguration("per-variant", {"runtime_variant": variant}, variant=None)
        result.notes.append(
            f"has no [{variant}] table (found: {', '.join(sorted(tables))}); Backend.AI ignores the file"
        )
        return result
    data = _lift_environment(dict(tables[variant]))
    data.setdefault("runtime_variant", variant)
    return FlatConfiguration("per-variant", data, variant=variant)
