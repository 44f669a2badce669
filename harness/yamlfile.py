"""YAML loading that remembers where each mapping and list came from, so errors can name
the file and line of the offending entry (PyYAML's composer keeps the marks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError


class LineDict(dict[str, Any]):
    """A mapping with ``line`` (1-based, its first line) and ``key_lines`` (line of each key)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


def _construct(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[str(key)] = _construct(value_node, loader)
            result.key_lines[str(key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        items = LineList(_construct(child, loader) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path, error: type[ConfigError] = ConfigError) -> Any:
    """Parse a YAML file into LineDict / LineList / scalars; syntax errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    return loads_yaml(text, str(path), error)


def loads_yaml(text: str, source: str, error: type[ConfigError] = ConfigError) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark is not None else ""
        raise error(f"{source}:{line} not valid YAML: {exc.problem or exc}") from None
    finally:
        loader.dispose()


def line_of(obj: Any, key: str | None = None) -> int | None:
    if isinstance(obj, LineDict):
        if key is not None and key in obj.key_lines:
            return obj.key_lines[key]
        return obj.line
    if isinstance(obj, LineList):
        return obj.line
    return None
