"""YAML loading that remembers the line of every value, so content errors can name file and line."""

from __future__ import annotations

from pathlib import Path

import yaml


class Lines(dict[tuple, int]):
    """Key path (tuple of keys/indices) → 1-based line; `flow` holds the paths of lists written `[a, b, c]`,
    where an unquoted comma silently splits an entry in two."""

    def __init__(self) -> None:
        super().__init__()
        self.flow: set[tuple] = set()


def load_with_lines(text: str) -> tuple[object, Lines]:
    """Parse YAML; return the data and a map from key path (tuple of keys/indices) to 1-based line."""
    lines = Lines()
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
            if n.flow_style:
                lines.flow.add(path)
            return [build(child, path + (i,)) for i, child in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    return build(node, ()), lines


def line_of(lines: dict[tuple, int], loc: tuple) -> int:
    """The line of the deepest known prefix of loc (pydantic error locations may go past the data)."""
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def yaml_error_line(exc: Exception) -> tuple[int, str, str]:
    """Where a YAML error really is, and what it is in English and Vietnamese.

    The parser notices an unclosed quote or bracket where it runs out of text, often many lines
    later; its `context_mark` points at what was opened, which is where the person must look.
    """
    problem = str(getattr(exc, "problem", None) or exc)
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    at = mark.line + 1 if mark else 1
    if context is not None and context.line + 1 < at:
        opened = context.line + 1
        what = getattr(exc, "context", "") or ""
        return (
            opened,
            f"not valid YAML: {what} opened on this line is not closed properly ({problem}; the parser noticed at line {at})",
            f"YAML không hợp lệ: dấu ngoặc hoặc dấu nháy mở ở dòng này chưa được đóng đúng ({problem}; trình đọc phát hiện ở dòng {at})",
        )
    return at, f"not valid YAML: {problem}", f"YAML không hợp lệ: {problem} (kiểm tra thụt lề, dấu hai chấm và dấu nháy)"


def read_yaml(path: Path) -> tuple[object, Lines]:
    return load_with_lines(Path(path).read_text(encoding="utf-8"))
