"""Structural differences between two revisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from msr_oci.revision import ModelServingRevision

#: compared sections, in output order; identity and bookkeeping fields are left out on purpose
DIFF_SECTIONS = (
    "model_definition",
    "service_configuration",
    "metadata",
    "description",
    "labels",
    "metrics",
    "parameters",
    "lineage",
    "extra_files",
)


@dataclass(frozen=True)
class DiffEntry:
    path: str
    change: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


def _walk(path: str, old: Any, new: Any, out: list[DiffEntry]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}"
            if key not in old:
                out.append(DiffEntry(child, "added", new=new[key]))
            elif key not in new:
                out.append(DiffEntry(child, "removed", old=old[key]))
            else:
                _walk(child, old[key], new[key], out)
    elif isinstance(old, list) and isinstance(new, list) and old != new:
        for index in range(max(len(old), len(new))):
            child = f"{path}[{index}]"
            if index >= len(old):
                out.append(DiffEntry(child, "added", new=new[index]))
            elif index >= len(new):
                out.append(DiffEntry(child, "removed", old=old[index]))
            else:
                _walk(child, old[index], new[index], out)
    elif old != new:
        out.append(DiffEntry(path, "changed", old=old, new=new))


def _section(revision: ModelServingRevision, section: str) -> Any:
    if section == "extra_files":
        return {f.path: f.digest for f in revision.extra_files}
    return revision.model_dump(mode="json", include={section}).get(section)


def diff_revisions(a: ModelServingRevision, b: ModelServingRevision) -> list[DiffEntry]:
    """What changed from ``a`` to ``b``, as dotted field paths (``service_configuration.replicas``)."""
    out: list[DiffEntry] = []
    for section in DIFF_SECTIONS:
        _walk(section, _section(a, section), _section(b, section), out)
    return out
