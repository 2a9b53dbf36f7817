"""Read a mapping file into plain data that remembers where each key was written.

A mapping error must name the file, line and key, so the file is composed into YAML nodes
(`yaml.compose`, safe: no tags are constructed) and turned into `Located` dicts and lists
that carry line numbers. Every scalar is kept as text (YAML 1.1 would turn ``NO`` into
False and ``01`` into 1, which breaks code tables); the compiler converts text to the
target field's type and says so when it cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.errors import MappingError

__all__ = ["Located", "LocatedList", "load_located", "mapping_error"]

#: Plain scalars YAML reads as "no value".
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def mapping_error(file: str, line: int, key: str, message: str) -> MappingError:
    """A `MappingError` whose text and attributes name file, line and key."""
    exc = MappingError(f"{file}:{line}: {key}: {message}")
    exc.file, exc.line, exc.key = file, line, key  # type: ignore[attr-defined]
    exc.problems = (str(exc),)  # type: ignore[attr-defined]
    return exc


class Located(dict[str, Any]):
    """A YAML mapping: its own line, and the line of each key."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list[Any]):
    """A YAML sequence: its own line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


def _convert(node: yaml.Node, file: str) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in _NULLS:
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        out = LocatedList(line)
        for item in node.value:
            out.append(_convert(item, file))
            out.item_lines.append(item.start_mark.line + 1)
        return out
    if isinstance(node, yaml.MappingNode):
        mapping = Located(line)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise mapping_error(file, key_line, "?", "a key must be plain text")
            key = key_node.value
            if key in mapping:
                raise mapping_error(file, key_line, key,
                                    f"key written twice (first at line {mapping.key_lines[key]})")
            mapping[key] = _convert(value_node, file)
            mapping.key_lines[key] = key_line
        return mapping
    raise mapping_error(file, line, "?", "unsupported YAML node")  # pragma: no cover


def load_located(path: Path) -> Located:
    """The mapping file as `Located` data, or `MappingError` naming the line at fault."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise mapping_error(file, 0, "(file)", f"cannot be read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise mapping_error(file, line, "(yaml)", f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise mapping_error(file, 0, "(yaml)", f"not valid YAML: {exc}") from None
    if node is None:
        raise mapping_error(file, 1, "(file)", "the mapping file is empty")
    data = _convert(node, file)
    if not isinstance(data, Located):
        raise mapping_error(file, node.start_mark.line + 1, "(file)",
                            "a mapping file is a YAML mapping of keys")
    return data
