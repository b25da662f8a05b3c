"""The one way msr reads YAML it did not write: safe tags only, timestamps left as strings, and bounded.

Refused with the line: duplicate keys (YAML says a key is unique; PyYAML silently keeps the last),
anchors/aliases that expand past a small bound (a 600-byte "billion laughs" would otherwise cost
gigabytes downstream), and nesting deeper than any real configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import yaml

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "YamlDocument", "YamlProblem", "parse_yaml"]

#: nodes of the document with every alias expanded; real model definitions have a few hundred
MAX_EXPANDED_NODES: Final = 100_000
MAX_DEPTH: Final = 64


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as strings, so every value survives a JSON round trip."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlProblem(Exception):
    message: str
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    #: the composed tree, to find the line of a field
    node: yaml.Node | None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_tree(root: yaml.Node) -> None:
    """Duplicate keys, depth and expanded size, in one iterative walk over the distinct nodes."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlProblem(
                f"nests deeper than {MAX_DEPTH} levels", node.start_mark.line + 1, "flatten the document"
            )
        if children_done:
            total = 1 + sum(expanded[id(child)] for child in _children(node))
            expanded[id(node)] = total
            if total > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    f"expands to more than {MAX_EXPANDED_NODES} values through anchors and aliases",
                    node.start_mark.line + 1,
                    "write the values out instead of nesting aliases",
                )
            continue
        if id(node) in expanded:
            continue
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise YamlProblem(
                            f"duplicate key {key.value!r} (first on line {seen[key.value]})",
                            key.start_mark.line + 1,
                            "keep one of them: YAML keys are unique, and readers disagree on which wins",
                        )
                    seen[key.value] = key.start_mark.line + 1
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node) if id(child) not in expanded)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; ``YamlProblem`` names the line and the fix."""
    loader = _PlainLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, None)
        _check_tree(node)
        return YamlDocument(loader.construct_document(node), node)
    except RecursionError:
        raise YamlProblem(
            f"nests too deeply to read (over {MAX_DEPTH} levels)", None, "flatten the document"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlProblem(
            f"is not valid YAML: {exc.problem or exc.context}",
            mark.line + 1 if mark else None,
            "check indentation and quoting around that line",
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"is not valid YAML: {exc}") from None
    finally:
        loader.dispose()
