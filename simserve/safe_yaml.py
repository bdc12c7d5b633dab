"""YAML for input that may be hostile: ``yaml.safe_load`` with bounds on what it may expand to.

Owns ``load_yaml``, used for scenario files, ``--set`` values and ``--vary`` values. It composes
the document, counts its nodes as if aliases were expanded (without expanding them) and refuses
recursive aliases, a "billion laughs" document past ``limits.MAX_YAML_NODES`` and nesting too
deep for the parser, each as one ``YamlInputError`` line. Imports yaml and ``simserve.limits``.
"""

from __future__ import annotations

from typing import Any

import yaml

from simserve import limits


class YamlInputError(ValueError):
    """YAML that cannot be loaded safely; ``malformed`` when it is not YAML at all (vs. too large)."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _expanded_nodes(root: yaml.Node) -> int:
    """Nodes of a composed YAML document once aliases are expanded (shared subtrees counted each time
    they are used), without expanding them; ``-1`` when an alias refers to one of its own ancestors."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if closing:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(k)] for k in _yaml_children(node))
            continue
        if key in sizes:
            continue
        if key in open_:
            return -1
        open_.add(key)
        stack.append((node, True))
        for child in _yaml_children(node):
            if id(child) in open_:
                return -1
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with bounds: a one-line ``YamlInputError`` on malformed YAML (with line and column),
    nesting too deep to parse, recursive aliases, or more than ``limits.MAX_YAML_NODES`` nodes once aliases
    are expanded (a "billion laughs" file), checked before anything is expanded."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader checks the characters here
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_nodes(node)
        if size < 0:
            raise YamlInputError("expected YAML without recursive aliases (an alias inside its own anchor)")
        if size > limits.MAX_YAML_NODES:
            raise YamlInputError(
                f"expected at most {limits.format_count(limits.MAX_YAML_NODES)} YAML values once aliases are "
                f"expanded; got {limits.format_count(size)}",
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise YamlInputError(f"{where}malformed YAML ({problem})", malformed=True) from None
    except RecursionError:
        raise YamlInputError("expected YAML nested less deeply (the parser ran out of stack)") from None
    finally:
        if loader is not None:
            loader.dispose()
