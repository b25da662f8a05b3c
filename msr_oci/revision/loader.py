"""Reading a revision directory from disk: the only module of this layer that does I/O.

A directory holds ``model-definition.yaml`` (or ``.yml``), ``deployment-config.yaml`` or the legacy
``service-definition.toml``, optionally ``revision.yaml`` (description, labels, metrics, parameters,
lineage, metadata), and any other files, which travel as extra files.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from msr_oci.oci.content import Descriptor
from msr_oci.oci.errors import UnsafePath
from msr_oci.revision.codec import (
    MEDIA_TYPE_MODEL_DEFINITION,
    MEDIA_TYPE_REVISION_FILE,
    MEDIA_TYPE_SERVICE_CONFIGURATION,
    MEDIA_TYPE_SERVICE_CONFIGURATION_TOML,
    layer_mode,
)
from msr_oci.revision.errors import Problem, RevisionInputError
from msr_oci.revision.model_definition import ModelDefinition
from msr_oci.revision.paths import check_relative_path
from msr_oci.revision.revision import ExtraFile, ModelServingRevision
from msr_oci.revision.service_configuration import ServiceConfiguration
from msr_oci.revision.yaml_input import YamlRefused, parse_yaml

__all__ = ["describe_extra_file", "load_revision_dir", "restore_modes", "validate_revision_dir"]

MODEL_DEFINITION_NAMES: Final = ("model-definition.yaml", "model-definition.yml")
DEPLOYMENT_CONFIG_NAMES: Final = ("deployment-config.yaml", "deployment-config.yml")
SERVICE_DEFINITION_TOML: Final = "service-definition.toml"
REVISION_FILE: Final = "revision.yaml"
#: what revision.yaml may set (everything else comes from the command line or the registry)
REVISION_FILE_KEYS: Final = frozenset(
    {"description", "labels", "metrics", "parameters", "lineage", "metadata", "created_by"}
)
_HASH_CHUNK: Final = 1024 * 1024


def describe_extra_file(path: Path, relative: str | None = None, media_type: str | None = None) -> ExtraFile:
    """An ``ExtraFile`` for a local file with its permission bits, hashed in chunks (never read whole)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode) & 0o777
    return ExtraFile(
        path=relative if relative is not None else path.name,
        source=path,
        digest=f"sha256:{digest.hexdigest()}",
        size=size,
        mode=mode,
        **({"media_type": media_type} if media_type is not None else {}),
    )


def restore_modes(root: Path, files: Sequence[tuple[str, Descriptor]]) -> None:
    """Give written files the permission bits their layers record (rwx only)."""
    for relative, layer in files:
        mode = layer_mode(layer)
        if mode is not None:
            os.chmod(root / relative, mode)


def _documents(root: Path) -> list[ExtraFile]:
    """The revision's own files as written, under their own names, marked by media type."""
    kinds = [
        (MODEL_DEFINITION_NAMES, MEDIA_TYPE_MODEL_DEFINITION),
        (DEPLOYMENT_CONFIG_NAMES, MEDIA_TYPE_SERVICE_CONFIGURATION),
        ((SERVICE_DEFINITION_TOML,), MEDIA_TYPE_SERVICE_CONFIGURATION_TOML),
        ((REVISION_FILE,), MEDIA_TYPE_REVISION_FILE),
    ]
    found = [(_first_existing(root, names), media_type) for names, media_type in kinds]
    return [
        describe_extra_file(path, path.name, media_type) for path, media_type in found if path is not None
    ]


# ---- reading documents with their line numbers ------------------------------------------------------


@dataclass
class _Document:
    file: str
    data: Any
    #: the composed YAML tree, to find the line of a field; None for TOML
    node: yaml.Node | None = None


@dataclass
class _Findings:
    problems: list[Problem] = field(default_factory=list)

    def error(self, file: str, message: str, **where: Any) -> None:
        self.problems.append(Problem(file=file, message=message, **where))

    def warn(self, file: str, message: str, **where: Any) -> None:
        self.problems.append(Problem(file=file, message=message, severity="warning", **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _read_yaml(path: Path, findings: _Findings) -> _Document | None:
    try:
        parsed = parse_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        findings.error(path.name, "is not UTF-8 text", hint="save the file as UTF-8")
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        refused = isinstance(exc, YamlRefused)
        findings.error(
            path.name,
            f"refused: {exc.problem}" if refused else f"is not valid YAML: {exc.problem or exc.context}",
            line=mark.line + 1 if mark else None,
            hint="give each key once; write values out instead of deep aliases or nesting"
            if refused
            else "check indentation and quoting around that line",
        )
        return None
    except yaml.YAMLError as exc:
        findings.error(path.name, f"is not valid YAML: {exc}")
        return None
    return _Document(path.name, parsed.data, parsed.node)


_TOML_LINE: Final = re.compile(r"at line (\d+)")


def _read_toml(path: Path, findings: _Findings) -> _Document | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        findings.error(path.name, "is not UTF-8 text", hint="save the file as UTF-8")
        return None
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        findings.error(
            path.name,
            f"is not valid TOML: {exc}",
            line=int(match.group(1)) if match else None,
            hint="see https://toml.io for the syntax",
        )
        return None
    return _Document(path.name, data)


def _format_path(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        # the models accept kebab-case and a few alternative names for the same field
        spellings = {part, part.replace("_", "-")}
        if part == "start_command":
            spellings |= {"command"}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in spellings:
                found: yaml.Node = value
                return found
    return None


def _has_item(data: Any, part: str | int) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _locate(document: _Document, loc: Sequence[str | int]) -> tuple[list[str | int], int | None]:
    """The field path a pydantic error points at, as written in the file, and its line.

    Parts that are not in the document (union member names, discriminator tags) are dropped; a
    missing field is kept so the message names it, with the line of its parent.
    """
    node = document.node
    path: list[str | int] = []
    line = node.start_mark.line + 1 if node is not None else None
    data = document.data
    for part in loc:
        if node is not None:
            child = _child(node, part)
            if child is not None:
                node, line = child, child.start_mark.line + 1
                path.append(part)
                continue
        elif _has_item(data, part):
            data = data[part]
            path.append(part)
            continue
        if part == loc[-1]:
            path.append(part)
    return path, line


def _validate(
    model: type[BaseModel], document: _Document, findings: _Findings, prefix: Sequence[str | int] = ()
) -> Any:
    """Validate a document (or the part of it under ``prefix``) into ``model``; record problems."""
    data = document.data
    for part in prefix:
        data = data[part]
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [*prefix, *(p for p in error["loc"] if isinstance(p, str | int))]
            path, line = _locate(document, loc)
            findings.error(
                document.file,
                error["msg"],
                field=_format_path(path) or None,
                line=line,
                hint=_hint(error["type"], path),
            )
        return None


def _hint(error_type: str, path: Sequence[str | int]) -> str | None:
    if error_type == "missing":
        return f"add {path[-1]!r}" if path else None
    if error_type == "extra_forbidden":
        return "remove it or check its spelling"
    if error_type in ("enum", "literal_error"):
        return "use one of the listed values"
    return None


# ---- the parts of a revision ------------------------------------------------------------------------


def _first_existing(root: Path, names: Sequence[str]) -> Path | None:
    found = [root / name for name in names if (root / name).is_file()]
    return found[0] if found else None


def _model_definition(root: Path, findings: _Findings) -> ModelDefinition | None:
    path = _first_existing(root, MODEL_DEFINITION_NAMES)
    if path is None:
        findings.error(
            MODEL_DEFINITION_NAMES[0],
            f"not found in {root}",
            hint="a revision directory needs the model-definition.yaml Backend.AI reads",
        )
        return None
    document = _read_yaml(path, findings)
    if document is None:
        return None
    if not isinstance(document.data, dict | None):
        findings.error(document.file, "must be a mapping with a 'models' list", line=1)
        return None
    definition: ModelDefinition | None = _validate(ModelDefinition, document, findings)
    if definition is not None and not definition.models:
        findings.warn(document.file, "defines no models", field="models")
    return definition


_FLAT_KEYS: Final = frozenset(ServiceConfiguration.model_fields) | {
    name.replace("_", "-") for name in ServiceConfiguration.model_fields
}


def _variant_sections(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-runtime-variant sections (``vllm:`` / ``[vllm]``): mappings under a key that is no field."""
    return {
        str(k): v
        for k, v in data.items()
        if isinstance(v, dict) and k not in _FLAT_KEYS and k != "environment"
    }


def _flatten_shape(
    document: _Document, runtime_variant: str | None, findings: _Findings
) -> tuple[dict[str, Any], list[str | int]] | None:
    """Every service-configuration shape Backend.AI has read, as the flat mapping msr validates.

    - flat (HEAD: deployment-config.yaml and service-definition.toml): ``image``, ``environ``, ...
    - nested (26.1-26.4.2): ``environment: {image, architecture}`` plus per-variant sections
      merged over the top level;
    - per-variant TOML (25.x): ``[vllm]`` tables, each with an optional ``environment``.
    Returns the flat data and the path inside the file the fields came from (for line numbers).
    """
    data: dict[str, Any] = dict(document.data or {})
    sections = _variant_sections(data)
    prefix: list[str | int] = []
    if sections:
        variant = runtime_variant or data.get("runtime_variant") or data.get("runtime-variant")
        if variant is None and len(sections) > 1:
            findings.error(
                document.file,
                f"defines several runtime variants ({', '.join(sorted(sections))})",
                hint="choose one with the runtime_variant argument (`--runtime-variant`)",
            )
            return None
        variant = str(variant) if variant is not None else next(iter(sections))
        if variant not in sections and not ("environment" in data or "image" in data):
            findings.error(
                document.file,
                f"has no {variant!r} section (found: {', '.join(sorted(sections))})",
                hint="pick one of the sections in the file",
            )
            return None
        section = dict(sections.get(variant, {}))
        base = {k: v for k, v in data.items() if k not in sections}
        data = {**base, **_lift_environment(base), **section, **_lift_environment(section)}
        data["runtime_variant"] = variant
        if variant in sections and "environment" not in base:
            prefix = [variant]
    elif "environment" in data:
        data = {**data, **_lift_environment(data)}
    data.pop("environment", None)
    return data, prefix


def _lift_environment(table: dict[str, Any]) -> dict[str, Any]:
    environment = table.get("environment")
    return dict(environment) if isinstance(environment, dict) else {}


def _configuration_from(
    document: _Document, runtime_variant: str | None, findings: _Findings
) -> ServiceConfiguration | None:
    if not isinstance(document.data, dict | None):
        findings.error(document.file, "must be a mapping (image, resource_slots, environ, ...)", line=1)
        return None
    shaped = _flatten_shape(document, runtime_variant, findings)
    if shaped is None:
        return None
    data, prefix = shaped
    wrapped: Any = data
    for part in reversed(prefix):
        wrapped = {part: wrapped}
    config: ServiceConfiguration | None = _validate(
        ServiceConfiguration, _Document(document.file, wrapped, document.node), findings, prefix=prefix
    )
    if config is not None and config.image is None:
        findings.warn(
            document.file,
            "no image: msr cannot tell which container image serves this revision",
            field="image",
            hint="add `image: <registry>/<name>:<tag>` (and `architecture`) at the top level, "
            "or give the image in the deployment request",
        )
    return config


def _service_configuration(
    root: Path, runtime_variant: str | None, findings: _Findings
) -> ServiceConfiguration | None:
    flat = _first_existing(root, DEPLOYMENT_CONFIG_NAMES)
    legacy = root / SERVICE_DEFINITION_TOML
    if flat is not None and legacy.is_file():
        findings.warn(
            SERVICE_DEFINITION_TOML,
            f"ignored: {flat.name} takes precedence",
            hint=f"remove one of {flat.name} and {SERVICE_DEFINITION_TOML}",
        )
    document = _read_yaml(flat, findings) if flat is not None else None
    if flat is None and legacy.is_file():
        document = _read_toml(legacy, findings)
    if flat is not None or legacy.is_file():
        config = _configuration_from(document, runtime_variant, findings) if document is not None else None
    else:
        config = ServiceConfiguration()
    if config is not None and runtime_variant is not None and config.runtime_variant != runtime_variant:
        try:
            config = ServiceConfiguration.model_validate(
                {**config.to_document(), "runtime_variant": runtime_variant}
            )
        except ValueError:
            findings.error("runtime_variant", f"invalid runtime variant name {runtime_variant!r}")
    return config


def _revision_fields(root: Path, findings: _Findings) -> _Document | None:
    path = root / REVISION_FILE
    if not path.is_file():
        return None
    document = _read_yaml(path, findings)
    if document is None or document.data is None:
        return None
    if not isinstance(document.data, dict):
        findings.error(document.file, "must be a mapping (description, labels, metrics, ...)", line=1)
        return None
    for key in document.data:
        if key not in REVISION_FILE_KEYS:
            _, line = _locate(document, [key])
            findings.error(
                document.file,
                "unknown key",
                field=str(key),
                line=line,
                hint=f"allowed keys: {', '.join(sorted(REVISION_FILE_KEYS))}",
            )
    return document


_CONSUMED: Final = frozenset(
    {*MODEL_DEFINITION_NAMES, *DEPLOYMENT_CONFIG_NAMES, SERVICE_DEFINITION_TOML, REVISION_FILE}
)


#: deeper trees are refused: nothing a model needs is nested this far, and paths stay short
MAX_TREE_DEPTH: Final = 64


def _walk_files(root: Path, findings: _Findings) -> Iterator[tuple[str, Path]]:
    """Every other regular file, sorted: dotfiles skipped; symlinks only when they stay inside.

    Iterative (os.walk recurses on Python 3.11), and bounded by ``MAX_TREE_DEPTH``.
    """
    resolved_root = root.resolve()
    pending: list[tuple[Path, int]] = [(root, 0)]
    while pending:
        directory, depth = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            findings.error(directory.relative_to(root).as_posix() or ".", f"cannot be read: {exc.strerror}")
            continue
        subdirectories: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 >= MAX_TREE_DEPTH:
                    findings.error(
                        relative,
                        f"directory tree deeper than {MAX_TREE_DEPTH} levels",
                        hint="flatten the tree or archive the deep part as one file",
                    )
                    continue
                subdirectories.append(path)
                continue
            if relative in _CONSUMED:
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(resolved_root):
                findings.warn(relative, "skipped: a symlink pointing outside the revision directory")
                continue
            if not path.is_file():
                findings.warn(relative, "skipped: not a regular file")
                continue
            try:
                check_relative_path(relative)
            except UnsafePath as exc:
                findings.error(relative, exc.message, hint="rename the file")
                continue
            yield relative, path
        pending.extend((sub, depth + 1) for sub in reversed(subdirectories))


def _collect(
    path: Path,
    name: str,
    version: str,
    runtime_variant: str | None,
    overrides: dict[str, Any],
    findings: _Findings,
) -> ModelServingRevision | None:
    root = Path(path)
    if not root.is_dir():
        findings.error(
            str(path), "is not a directory", hint="give the directory holding model-definition.yaml"
        )
        return None
    definition = _model_definition(root, findings)
    config = _service_configuration(root, runtime_variant, findings)
    extras = _revision_fields(root, findings)
    extra_files = [describe_extra_file(p, relative) for relative, p in _walk_files(root, findings)]
    documents = _documents(root)
    if findings.errors or definition is None or config is None:
        return None
    fields: dict[str, Any] = dict(extras.data) if extras is not None else {}
    fields.update(overrides)
    fields.update(
        name=name,
        version=version,
        model_definition=definition,
        service_configuration=config,
        extra_files=extra_files,
        documents=documents,
    )
    try:
        return ModelServingRevision.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            loc = list(error["loc"])
            if extras is not None and loc and loc[0] in extras.data and loc[0] not in overrides:
                where, line = _locate(extras, loc)
                findings.error(extras.file, error["msg"], field=_format_path(where), line=line)
            else:
                findings.error(
                    "arguments",
                    error["msg"],
                    field=_format_path([p for p in loc if isinstance(p, str | int)]),
                )
        return None


def load_revision_dir(
    path: Path | str,
    *,
    name: str,
    version: str,
    runtime_variant: str | None = None,
    **fields: Any,
) -> ModelServingRevision:
    """Read a revision directory. ``fields`` (labels, description, created_by, ...) override
    revision.yaml. Raises ``RevisionInputError`` naming the file, field path and line of the first
    error (all of them in ``.problems``)."""
    findings = _Findings()
    revision = _collect(Path(path), name, version, runtime_variant, fields, findings)
    errors = findings.errors
    if errors or revision is None:
        first = errors[0] if errors else Problem(file=str(path), message="could not be read")
        raise RevisionInputError(first, problems=errors)
    return revision


def validate_revision_dir(
    path: Path | str, *, name: str = "validate", version: str = "0", runtime_variant: str | None = None
) -> list[Problem]:
    """Every problem (errors and warnings) in a revision directory; empty when it is clean."""
    findings = _Findings()
    _collect(Path(path), name, version, runtime_variant, {}, findings)
    return findings.problems
