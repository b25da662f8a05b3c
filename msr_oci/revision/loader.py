"""Reading a revision directory from disk: the only module of this layer that does I/O.

A directory holds ``model-definition.yaml`` (or ``.yml``), ``deployment-config.yaml`` or the legacy
``service-definition.toml``, optionally ``revision.yaml`` (description, labels, metrics, parameters,
lineage, metadata), and any other files, which travel as extra files.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ValidationError

from msr_oci.errors import UnsafePath
from msr_oci.oci.digest import digest_bytes
from msr_oci.oci.file_digests import FileDigests, hash_file
from msr_oci.revision.codec import (
    MEDIA_TYPE_MODEL_DEFINITION,
    MEDIA_TYPE_REVISION_FILE,
    MEDIA_TYPE_SERVICE_CONFIGURATION,
    MEDIA_TYPE_SERVICE_CONFIGURATION_TOML,
    service_file_view,
)
from msr_oci.revision.errors import InvalidRevision, Problem, RevisionInputError
from msr_oci.revision.ignore import (
    IGNORE_FILE,
    MAX_IGNORE_FILE_BYTES,
    SYNTAX_HINT,
    Exclusion,
    IgnoreRules,
    secret_warning,
)
from msr_oci.revision.model_definition import (
    COMMAND_KEYS,
    ModelConfig,
    ModelDefinition,
    ModelHealthCheck,
    ModelMetadata,
    ModelServiceConfig,
    PreStartAction,
)
from msr_oci.revision.paths import check_relative_path
from msr_oci.revision.pulled_record import is_generated_revision_file
from msr_oci.revision.revision import (
    REVISION_FILE,
    DocumentFile,
    DocumentRole,
    ExtraFile,
    ModelServingRevision,
)
from msr_oci.revision.service_configuration import (
    BlueGreen,
    DeploymentStrategy,
    RollingUpdate,
    ServiceConfiguration,
)
from msr_oci.revision.service_files import flatten_service_configuration
from msr_oci.revision.yaml_reader import YamlProblem, parse_yaml

__all__ = ["TARGETS", "describe_extra_file", "load_revision_dir", "validate_revision_dir"]

#: the Backend.AI releases whose reading rules `--target` checks against (HEAD: the draft reading)
Target = Literal["head", "26.4.3", "24.09"]
TARGETS: Final[tuple[str, ...]] = ("head", "26.4.3", "24.09")
#: a directory tree deeper than this is refused (a real revision is a few levels deep)
MAX_TREE_DEPTH: Final = 64

MODEL_DEFINITION_NAMES: Final = ("model-definition.yaml", "model-definition.yml")
DEPLOYMENT_CONFIG_NAMES: Final = ("deployment-config.yaml", "deployment-config.yml")
SERVICE_DEFINITION_TOML: Final = "service-definition.toml"
#: what revision.yaml may set (everything else comes from the command line or the registry)
REVISION_FILE_KEYS: Final = frozenset(
    {"description", "labels", "metrics", "parameters", "lineage", "metadata", "created_by"}
)


def _permission_bits(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o777


def describe_extra_file(
    path: Path, relative: str | None = None, digests: FileDigests | None = None
) -> ExtraFile:
    """An ``ExtraFile`` for a local file, hashed in chunks (never read whole); with ``digests``, a
    file unchanged since it was last hashed is not read at all."""
    digest, size = digests.digest(path) if digests is not None else hash_file(path)
    return ExtraFile(
        path=relative if relative is not None else path.name,
        source=path,
        digest=digest,
        size=size,
        mode=_permission_bits(path),
    )


# ---- reading documents with their line numbers ------------------------------------------------------


@dataclass
class _Document:
    file: str
    data: Any
    #: the composed YAML tree, to find the line of a field; None for TOML
    node: yaml.Node | None = None
    #: the exact bytes and permission bits of the file
    content: bytes = b""
    mode: int | None = None

    def as_file(self, role: DocumentRole, media_type: str, view: dict[str, Any] | None) -> DocumentFile:
        return DocumentFile(
            role=role,
            path=self.file,
            digest=digest_bytes(self.content),
            size=len(self.content),
            media_type=media_type,
            mode=self.mode,
            content=self.content,
            view=view,
        )


@dataclass
class _Findings:
    problems: list[Problem] = field(default_factory=list)
    #: files and directories the ignore rules left out, in walk order
    excluded: list[Exclusion] = field(default_factory=list)

    def error(self, file: str, message: str, **where: Any) -> None:
        self.problems.append(Problem(file=file, message=message, **where))

    def warn(self, file: str, message: str, **where: Any) -> None:
        self.problems.append(Problem(file=file, message=message, severity="warning", **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _read_text(path: Path, findings: _Findings) -> tuple[bytes, str] | None:
    try:
        content = path.read_bytes()
        return content, content.decode("utf-8")
    except UnicodeDecodeError:
        findings.error(path.name, "is not UTF-8 text", hint="save the file as UTF-8")
    except OSError as exc:
        findings.error(path.name, f"cannot be read: {exc.strerror}")
    return None


def _read_yaml(path: Path, findings: _Findings, name: str | None = None) -> _Document | None:
    read = _read_text(path, findings)
    if read is None:
        return None
    content, text = read
    try:
        parsed = parse_yaml(text)
    except YamlProblem as exc:
        findings.error(name or path.name, exc.message, line=exc.line, hint=exc.hint)
        return None
    return _Document(name or path.name, parsed.data, parsed.node, content, _permission_bits(path))


_TOML_LINE: Final = re.compile(r"at line (\d+)")


def _read_toml(path: Path, findings: _Findings) -> _Document | None:
    read = _read_text(path, findings)
    if read is None:
        return None
    content, text = read
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        findings.error(
            path.name,
            f"is not valid TOML: {exc}",
            line=int(match.group(1)) if match else None,
            hint="see https://toml.io for the syntax",
        )
        return None
    except RecursionError:
        findings.error(path.name, "nests too deeply to read", hint="flatten the document")
        return None
    return _Document(path.name, data, None, content, _permission_bits(path))


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


# ---- keys Backend.AI does not read, and older releases' rules ------------------------------------

#: model -> the models of its fields whose keys are checked too (free-form mappings are not)
_NESTED: Final[dict[type[BaseModel], dict[str, type[BaseModel]]]] = {
    ModelDefinition: {"models": ModelConfig},
    ModelConfig: {"service": ModelServiceConfig, "metadata": ModelMetadata},
    ModelServiceConfig: {"pre_start_actions": PreStartAction, "health_check": ModelHealthCheck},
    ServiceConfiguration: {"deployment_strategy": DeploymentStrategy},
    DeploymentStrategy: {"rolling_update": RollingUpdate, "blue_green": BlueGreen},
}
_EXTRA_KNOWN: Final[dict[type[BaseModel], frozenset[str]]] = {
    ModelServiceConfig: frozenset(COMMAND_KEYS),
    # the flat strategy shape of msr <= 0.1, still read
    DeploymentStrategy: frozenset({"max_surge", "max_unavailable", "auto_promote", "promote_delay_seconds"}),
}


def _known(model: type[BaseModel]) -> set[str]:
    known = set(model.model_fields)
    for field_info in model.model_fields.values():
        alias = field_info.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            known.update(c for c in alias.choices if isinstance(c, str))
    return known | _EXTRA_KNOWN.get(model, frozenset())


def _unknown_keys(
    data: Any, model: type[BaseModel], prefix: list[str | int]
) -> Iterator[tuple[list[str | int], str | None]]:
    """(field path, closest known key) of every key ``model`` does not read, at any depth."""
    if not isinstance(data, dict):
        return
    known = _known(model)
    for key, value in data.items():
        name = key.replace("-", "_") if isinstance(key, str) else key
        if name not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            yield [*prefix, key], close[0] if close else None
            continue
        child = _NESTED.get(model, {}).get(name)
        if child is None:
            continue
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            path = [*prefix, key] if index is None else [*prefix, key, index]
            yield from _unknown_keys(item, child, path)


def _key_line(document: _Document, path: list[str | int]) -> int | None:
    """The line of the key itself (not of its value, which may start on the next line)."""
    node = document.node
    for part in path[:-1]:
        node = _child(node, part) if node is not None else None
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == path[-1]:
                return int(key.start_mark.line) + 1
    return _locate(document, path)[1]


def _check_keys(
    document: _Document, model: type[BaseModel], findings: _Findings, *, strict: bool, reject: bool
) -> None:
    for path, close in _unknown_keys(document.data, model, []):
        line = _key_line(document, path)
        hint = f"did you mean {close!r}?" if close else "remove it or check its spelling"
        # older releases' trafaret allowed extra keys under `metadata` only
        if reject and "metadata" not in path[:-1]:
            findings.error(
                document.file,
                "is not allowed by this Backend.AI release",
                field=_format_path(path),
                line=line,
                hint=hint,
            )
        elif strict:
            findings.error(document.file, "unknown key", field=_format_path(path), line=line, hint=hint)
        else:
            findings.warn(
                document.file,
                "unknown key: Backend.AI ignores it",
                field=_format_path(path),
                line=line,
                hint=hint,
            )


def _services(document: _Document) -> Iterator[tuple[list[str | int], dict[str, Any] | None]]:
    models = document.data.get("models") if isinstance(document.data, dict) else None
    for index, model in enumerate(models if isinstance(models, list) else []):
        if isinstance(model, dict):
            service = model.get("service")
            yield ["models", index], service if isinstance(service, dict) else None


def _check_release(document: _Document, target: Target, findings: _Findings) -> None:
    """What releases older than HEAD refuse (common/config.py's trafaret model_definition_iv)."""
    if target == "head":
        return
    release = f"Backend.AI {target}"
    for where, service in _services(document):
        model = document.data["models"][where[1]]
        if "model_path" not in model and "model-path" not in model:
            _, line = _locate(document, where)
            findings.error(
                document.file,
                f"field required by {release}",
                field=_format_path([*where, "model_path"]),
                line=line,
                hint="add 'model_path'; HEAD fills it from the mount destination",
            )
        if service is None:
            continue
        command = service.get("start_command", service.get("start-command"))
        at = [*where, "service", "start_command"]
        _, line = _locate(document, at)
        if command is None:
            findings.error(
                document.file,
                f"field required by {release}",
                field=_format_path(at),
                line=line,
                hint="add 'start_command'",
            )
        elif target == "24.09" and not isinstance(command, list):
            findings.error(
                document.file,
                f"{release} takes only a list here",
                field=_format_path(at),
                line=line,
                hint="write the command as a list, e.g. [python, serve.py]",
            )
        health = service.get("health_check", service.get("health-check"))
        if isinstance(health, dict) and health and "path" not in health:
            at = [*where, "service", "health_check"]
            _, line = _locate(document, at)
            findings.error(
                document.file,
                f"'path' is required by {release}",
                field=_format_path([*at, "path"]),
                line=line,
                hint="add 'path: /health' (HEAD defaults it)",
            )
        if isinstance(health, dict) and "enable" in health:
            at = [*where, "service", "health_check", "enable"]
            _, line = _locate(document, at)
            findings.error(
                document.file,
                f"is not allowed by {release} (added in 26.4.4)",
                field=_format_path(at),
                line=line,
                hint="remove 'enable': a health_check block means enabled",
            )


# ---- the parts of a revision ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    target: Target = "head"
    strict: bool = False


def _first_existing(root: Path, names: Sequence[str], findings: _Findings) -> Path | None:
    found = [root / name for name in names if (root / name).is_file()]
    if len(found) > 1:
        findings.error(found[1].name, f"conflicts with {found[0].name}", hint="keep one of them")
    return found[0] if found else None


def _model_definition(
    root: Path, findings: _Findings, rules: _Rules
) -> tuple[ModelDefinition, _Document] | None:
    path = _first_existing(root, MODEL_DEFINITION_NAMES, findings)
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
    _check_keys(document, ModelDefinition, findings, strict=rules.strict, reject=rules.target != "head")
    _check_release(document, rules.target, findings)
    definition: ModelDefinition | None = _validate(ModelDefinition, document, findings)
    if definition is None:
        return None
    if not definition.models:
        findings.warn(document.file, "defines no models", field="models")
    return definition, document


def _service_document(root: Path, findings: _Findings) -> tuple[_Document, bool] | None:
    flat = _first_existing(root, DEPLOYMENT_CONFIG_NAMES, findings)
    legacy = root / SERVICE_DEFINITION_TOML
    if flat is not None and legacy.is_file():
        findings.warn(
            SERVICE_DEFINITION_TOML,
            f"ignored: {flat.name} takes precedence",
            hint=f"remove one of {flat.name} and {SERVICE_DEFINITION_TOML}",
        )
    if flat is not None:
        document = _read_yaml(flat, findings)
        return None if document is None else (document, False)
    if legacy.is_file():
        document = _read_toml(legacy, findings)
        return None if document is None else (document, True)
    return None


def _service_configuration(
    root: Path, runtime_variant: str | None, findings: _Findings, rules: _Rules
) -> tuple[ServiceConfiguration, _Document | None] | None:
    found = _service_document(root, findings)
    if found is None:
        if findings.errors:
            return None
        default = ServiceConfiguration()
        if runtime_variant is not None:
            default = ServiceConfiguration(runtime_variant=runtime_variant)
        findings.warn(
            DEPLOYMENT_CONFIG_NAMES[0],
            "not found: the revision names no image",
            hint="add deployment-config.yaml with 'image:', or give the image when deploying "
            "(msr render --image-id)",
        )
        return default, None
    document, toml = found
    if not isinstance(document.data, dict | None):
        findings.error(document.file, "must be a mapping (image, resource_slots, environ, ...)", line=1)
        return None
    flat = flatten_service_configuration(document.data or {}, toml=toml, runtime_variant=runtime_variant)
    if flat.error is not None:
        findings.error(document.file, flat.error[0], hint=flat.error[1])
        return None
    for note in flat.notes:
        findings.warn(document.file, note)
    if flat.shape == "flat":
        _check_keys(document, ServiceConfiguration, findings, strict=rules.strict, reject=False)
    if runtime_variant is not None:
        flat.data["runtime_variant"] = runtime_variant
    shaped = _Document(document.file, flat.data, document.node if flat.shape == "flat" else None)
    config: ServiceConfiguration | None = _validate(ServiceConfiguration, shaped, findings)
    if config is None:
        return None
    if not config.image:
        findings.warn(
            document.file,
            "names no image: Backend.AI will need it from the deployment request",
            field="image" if flat.shape == "flat" else "environment.image",
            hint="add the image (flat: 'image:'; per variant: 'environment: {image: ...}'), or give "
            "--image-id to msr render",
        )
    return config, document


def _revision_fields(root: Path, findings: _Findings) -> _Document | None:
    path = root / REVISION_FILE
    if not path.is_file():
        return None
    document = _read_yaml(path, findings)
    if document is None:
        return None
    if is_generated_revision_file(document.content):
        reason = "written by msr pull: its fields are read, the file is not published"
        findings.excluded.append(Exclusion(REVISION_FILE, reason))
    if not isinstance(document.data, dict | None):
        findings.error(document.file, "must be a mapping (description, labels, metrics, ...)", line=1)
        return None
    for key in document.data or {}:
        if key not in REVISION_FILE_KEYS:
            _, line = _locate(document, [key])
            close = difflib.get_close_matches(str(key), sorted(REVISION_FILE_KEYS), n=1)
            findings.error(
                document.file,
                "unknown key",
                field=str(key),
                line=line,
                hint=f"did you mean {close[0]!r}?"
                if close
                else f"allowed keys: {', '.join(sorted(REVISION_FILE_KEYS))}",
            )
    return document


_CONSUMED: Final = frozenset(
    {*MODEL_DEFINITION_NAMES, *DEPLOYMENT_CONFIG_NAMES, SERVICE_DEFINITION_TOML, REVISION_FILE}
)


def _ignore_rules(root: Path, findings: _Findings) -> IgnoreRules:
    """The default excludes plus ``root``'s ``.msrignore`` (UTF-8, gitignore syntax), if any."""
    path = root / IGNORE_FILE
    lines: list[str] = []
    if path.is_file():
        if path.stat().st_size > MAX_IGNORE_FILE_BYTES:
            findings.error(IGNORE_FILE, f"is larger than {MAX_IGNORE_FILE_BYTES} bytes", hint=SYNTAX_HINT)
        elif (read := _read_text(path, findings)) is not None:
            lines = read[1].splitlines()
    rules = IgnoreRules(lines)
    findings.problems.extend(rules.problems)
    return rules


def _walk_files(root: Path, findings: _Findings) -> Iterator[tuple[str, Path]]:
    """Every other regular file the ignore rules keep, sorted, iteratively (any depth up to a
    bound); an excluded directory is not read; symlinks only when they stay inside."""
    rules = _ignore_rules(root, findings)
    resolved_root = root.resolve()
    pending: list[tuple[Path, int]] = [(root, 0)]
    while pending:
        directory, depth = pending.pop()
        if depth > MAX_TREE_DEPTH:
            relative = directory.relative_to(root).as_posix()
            findings.error(
                relative,
                f"is nested deeper than {MAX_TREE_DEPTH} directories",
                hint="flatten the directory tree",
            )
            return
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            findings.error(directory.relative_to(root).as_posix() or ".", f"cannot be read: {exc.strerror}")
            continue
        subdirectories = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if relative in _CONSUMED:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            excluded = rules.exclusion(relative, is_dir=is_dir)
            if excluded is not None:
                findings.excluded.append(excluded)
                continue
            if is_dir:
                subdirectories.append((path, depth + 1))
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
            secret = secret_warning(relative)
            if secret is not None:
                findings.problems.append(secret)
            yield relative, path
        pending.extend(reversed(subdirectories))


def _collect(
    path: Path,
    name: str,
    version: str,
    runtime_variant: str | None,
    overrides: dict[str, Any],
    findings: _Findings,
    rules: _Rules,
    digests: FileDigests | None = None,
    hashing: Callable[[str, int], None] | None = None,
) -> ModelServingRevision | None:
    root = Path(path)
    if not root.is_dir():
        findings.error(
            str(path), "is not a directory", hint="give the directory holding model-definition.yaml"
        )
        return None
    definition = _model_definition(root, findings, rules)
    config = _service_configuration(root, runtime_variant, findings, rules)
    extras = _revision_fields(root, findings)
    extra_files = []
    for relative, file in _walk_files(root, findings):
        if hashing is not None:
            hashing(relative, file.stat().st_size)
        extra_files.append(describe_extra_file(file, relative, digests))
    extra_files.sort(key=lambda f: f.path)
    if findings.errors or definition is None or config is None:
        return None
    model_definition, definition_document = definition
    service_configuration, service_document = config
    documents = [
        definition_document.as_file(
            "model-definition", MEDIA_TYPE_MODEL_DEFINITION, model_definition.to_document()
        )
    ]
    if service_document is not None:
        media_type = (
            MEDIA_TYPE_SERVICE_CONFIGURATION_TOML
            if service_document.file.endswith(".toml")
            else MEDIA_TYPE_SERVICE_CONFIGURATION
        )
        documents.append(
            service_document.as_file(
                "service-configuration", media_type, service_file_view(service_configuration)
            )
        )
    if extras is not None and not is_generated_revision_file(extras.content):
        documents.append(extras.as_file("revision", MEDIA_TYPE_REVISION_FILE, None))
    fields: dict[str, Any] = dict(extras.data or {}) if extras is not None else {}
    fields.update(overrides)
    fields.update(
        name=name,
        version=version,
        model_definition=model_definition,
        service_configuration=service_configuration,
        extra_files=extra_files,
        documents=documents,
    )
    try:
        return ModelServingRevision.model_validate(fields)
    except InvalidRevision as exc:
        for error in exc.errors():
            loc = list(error["loc"])
            if (
                extras is not None
                and extras.data
                and loc
                and loc[0] in extras.data
                and loc[0] not in overrides
            ):
                where, line = _locate(extras, loc)
                findings.error(extras.file, error["msg"], field=_format_path(where), line=line)
            else:
                findings.error(
                    "arguments",
                    error["msg"],
                    field=_format_path([p for p in loc if isinstance(p, str | int)]),
                )
        return None


def _rules(target: str, strict: bool) -> _Rules:
    if target not in TARGETS:
        raise RevisionInputError(
            Problem(
                file="arguments",
                field="target",
                message=f"unknown Backend.AI release {target!r}",
                hint=f"use one of {', '.join(TARGETS)}",
            )
        )
    return _Rules(target=target, strict=strict)  # type: ignore[arg-type]


def load_revision_dir(
    path: Path | str,
    *,
    name: str,
    version: str,
    runtime_variant: str | None = None,
    target: str = "head",
    strict: bool = False,
    warnings: list[Problem] | None = None,
    excluded: list[Exclusion] | None = None,
    file_digests: FileDigests | None = None,
    hashing: Callable[[str, int], None] | None = None,
    **fields: Any,
) -> ModelServingRevision:
    """Read a revision directory. ``fields`` (labels, description, created_by, ...) override
    revision.yaml. ``target`` checks against an older Backend.AI release's rules; ``strict`` makes
    unknown keys errors. Raises ``RevisionInputError`` naming the file, field path and line of the
    first error (all of them in ``.problems``); warnings are appended to ``warnings``, and what the
    default excludes and ``.msrignore`` left out to ``excluded``. With ``file_digests``, files
    unchanged since they were last hashed are not read again. ``hashing(path, size)`` is called
    before each extra file is described (hashed unless ``file_digests`` knows it)."""
    findings = _Findings()
    rules = _rules(target, strict)
    revision = _collect(
        Path(path), name, version, runtime_variant, fields, findings, rules, file_digests, hashing
    )
    if warnings is not None:
        warnings.extend(p for p in findings.problems if p.severity == "warning")
    if excluded is not None:
        excluded.extend(findings.excluded)
    errors = findings.errors
    if errors or revision is None:
        first = errors[0] if errors else Problem(file=str(path), message="could not be read")
        raise RevisionInputError(first, problems=errors)
    return revision


def validate_revision_dir(
    path: Path | str,
    *,
    name: str = "validate",
    version: str = "0",
    runtime_variant: str | None = None,
    target: str = "head",
    strict: bool = False,
    excluded: list[Exclusion] | None = None,
) -> list[Problem]:
    """Every problem (errors and warnings) in a revision directory; empty when it is clean. What
    the ignore rules leave out is appended to ``excluded``."""
    findings = _Findings()
    _collect(Path(path), name, version, runtime_variant, {}, findings, _rules(target, strict))
    if excluded is not None:
        excluded.extend(findings.excluded)
    return findings.problems
