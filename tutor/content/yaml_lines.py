"""YAML loading that remembers the line of every value, so content errors can name file and line."""

from __future__ import annotations

from pathlib import Path

import yaml


def load_with_lines(text: str) -> tuple[object, dict[tuple, int]]:
    """Parse YAML; return the data and a map from key path (tuple of keys/indices) to 1-based line."""
    lines: dict[tuple, int] = {}
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader(text)

    def build(n: yaml.Node, path: tuple) -> object:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node, deep=True)
                lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = build(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(child, path + (i,)) for i, child in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    return build(node, ()), lines

def line_of(lines: dict[tuple, int], loc: tuple) -> int:
    """The line of the deepest known prefix of loc (pydantic error locations may go past the data)."""
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)

def read_yaml(path: Path) -> tuple[object, dict[tuple, int]]:
    return load_with_lines(Path(path).read_text(encoding="utf-8"))
