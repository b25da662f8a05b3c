"""The one place msr parses YAML a user gave it: safe, bounded, strict about duplicate keys.

Every YAML file msr reads (model-definition, deployment-config, revision.yaml) and every YAML value
given on the command line goes through ``parse_yaml``. It refuses, with the line:
- aliases that expand beyond ``MAX_EXPANDED_NODES`` nodes (a 590-byte "billion laughs" would
  otherwise take gigabytes once validated or serialised);
- nesting deeper than ``MAX_DEPTH`` (PyYAML's composer recurses: deeper input ends in RecursionError);
- a key given twice in one mapping (PyYAML keeps the last one silently; Backend.AI's reader too, so
  the user would not see which ``image:`` wins).
Timestamps stay strings, so every value survives a JSON round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import yaml

__all__ = ["MAX_DEPTH", "MAX_EXPANDED_NODES", "ParsedYaml", "YamlRefused", "parse_yaml"]

MAX_DEPTH: Final = 64
MAX_EXPANDED_NODES: Final = 100_000
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class YamlRefused(yaml.MarkedYAMLError):
    """Input msr will not parse (bomb, depth, duplicate key); carries the line in ``problem_mark``."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlRefused(None, None, f"nesting deeper than {MAX_DEPTH} levels", mark)
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                first = seen[identity].start_mark.line + 1
                raise YamlRefused(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first given on line {first})",
                    key_node.start_mark,
                )
            seen[identity] = key_node
        return super().construct_mapping(node, deep=deep)


_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes the document has once every alias is expanded (memoised: linear time)."""
    sizes: dict[int, int] = {}
    # iterative post-order walk; the graph is acyclic because the composer refuses recursive aliases
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes[id(child)] for child in children)
        if total > MAX_EXPANDED_NODES:
            raise YamlRefused(
                None,
                None,
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)",
                node.start_mark,
            )
        sizes[id(node)] = total


@dataclass(frozen=True)
class ParsedYaml:
    data: Any
    #: the composed tree, to find the line of a field; None for an empty document
    node: yaml.Node | None


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document; raises ``yaml.YAMLError`` (``YamlRefused`` for the bounds above)."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None, None)
        _check_expansion(node)
        return ParsedYaml(loader.construct_document(node), node)
    finally:
        loader.dispose()
