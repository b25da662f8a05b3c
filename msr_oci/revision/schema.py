"""JSON Schemas of the revision formats, generated from the models.

``python -m msr_oci.revision.schema --write`` regenerates ``schemas/``; ``--check`` exits 1 when a
checked-in schema is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from msr_oci.revision.codec import ARTIFACT_TYPE, MEDIA_TYPE_CONFIG
from msr_oci.revision.model_definition import ModelDefinition
from msr_oci.revision.revision import ModelServingRevision
from msr_oci.revision.service_configuration import ServiceConfiguration

__all__ = ["SCHEMA_DIR", "render_schemas", "schemas"]

SCHEMA_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"
_BASE_URI: Final = "https://backend.ai/schemas/model-serving/"
#: record fields that exist only in memory or in the registry, not in the config blob
_NOT_IN_CONFIG: Final = ("id", "digest", "aliases")


def _schema(model: type[BaseModel], file: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _BASE_URI + file,
        **schema,
        "description": description,
    }


def _config_schema() -> dict[str, Any]:
    schema = _schema(
        ModelServingRevision,
        "revision-config.schema.json",
        f"The config blob ({MEDIA_TYPE_CONFIG}) of a {ARTIFACT_TYPE} artifact.",
    )
    for name in _NOT_IN_CONFIG:
        schema["properties"].pop(name, None)
    schema["$defs"]["ExtraFile"]["properties"].pop("source", None)
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    return {
        "model-definition.schema.json": _schema(
            ModelDefinition, "model-definition.schema.json", "Backend.AI model-definition.yaml."
        ),
        "service-configuration.schema.json": _schema(
            ServiceConfiguration,
            "service-configuration.schema.json",
            "deployment-config.yaml: how a model serving revision is deployed.",
        ),
        "revision-config.schema.json": _config_schema(),
    }


def render_schemas() -> dict[str, str]:
    """File name -> file text, byte-stable."""
    return {
        name: json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, schema in schemas().items()
    }


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    stale = []
    for name, text in render_schemas().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msr_oci.revision.schema", description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate the files in schemas/")
    parser.add_argument("--check", action="store_true", help="exit 1 if a checked-in schema is stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="where the schemas live")
    args = parser.parse_args(argv)
    if args.write:
        args.dir.mkdir(parents=True, exist_ok=True)
        for name, text in render_schemas().items():
            (args.dir / name).write_text(text, encoding="utf-8")
            print(f"wrote {args.dir / name}")
        return 0
    if args.check:
        stale = stale_schemas(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name} (run python -m msr_oci.revision.schema --write)")
        return 1 if stale else 0
    for name, text in render_schemas().items():
        sys.stdout.write(f"# {name}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
