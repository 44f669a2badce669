"""Window hierarchies in uiautomator XML, as ``dump_hierarchy()`` writes them.

A hierarchy is ``<hierarchy rotation="0">`` holding nested ``<node>`` elements whose
attributes include ``text``, ``resource-id``, ``class``, ``package``, ``content-desc``,
``checkable``, ``checked``, ``clickable``, ``enabled``, ``bounds="[x1,y1][x2,y2]"``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.errors import InputError

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


Bounds = tuple[int, int, int, int]
"""A screen rectangle ``(x1, y1, x2, y2)`` as uiautomator writes it."""


def center_of(bounds: Bounds) -> tuple[int, int]:
    """Where a tap on this rectangle lands."""
    x1, y1, x2, y2 = bounds
    return (x1 + x2) // 2, (y1 + y2) // 2


def area_of(bounds: Bounds) -> int:
    x1, y1, x2, y2 = bounds
    return max(0, x2 - x1) * max(0, y2 - y1)


@dataclass(frozen=True, slots=True)
class Node:
    """One view of the window hierarchy."""

    text: str
    resource_id: str
    class_name: str
    package: str
    content_desc: str
    clickable: bool
    checkable: bool
    checked: bool
    enabled: bool
    bounds: tuple[int, int, int, int]
    depth: int
    index_path: tuple[int, ...]
    children: list[Node] = field(default_factory=list, compare=False, repr=False)

    @property
    def center(self) -> tuple[int, int]:
        return center_of(self.bounds)

    @property
    def area(self) -> int:
        return area_of(self.bounds)

    @property
    def label(self) -> str:
        """What a user reads on the view: its text, else its content description."""
        return self.text or self.content_desc

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Hierarchy:
    roots: list[Node]
    rotation: int = 0

    def nodes(self) -> Iterator[Node]:
        for root in self.roots:
            yield from root.walk()

    def find(self, *, text: str | None = None, resource_id: str | None = None,
             text_contains: str | None = None) -> list[Node]:
        """Nodes matching every given selector field (exact text / resource-id, or a substring)."""
        found = []
        for node in self.nodes():
            if text is not None and node.label.strip() != text:
                continue
            if resource_id is not None and node.resource_id != resource_id:
                continue
            if text_contains is not None and text_contains not in node.label:
                continue
            found.append(node)
        return found

    def packages(self) -> set[str]:
        return {n.package for n in self.nodes() if n.package}


def parse_bounds(value: str) -> tuple[int, int, int, int]:
    match = _BOUNDS.fullmatch(value.strip())
    if not match:
        raise ValueError(f"bounds {value!r} is not of the form [x1,y1][x2,y2]")
    x1, y1, x2, y2 = (int(g) for g in match.groups())
    return x1, y1, x2, y2


def _flag(element: ET.Element, name: str) -> bool:
    return element.get(name, "false").lower() == "true"


def _node(element: ET.Element, depth: int, path: tuple[int, ...], source: str) -> Node:
    try:
        bounds = parse_bounds(element.get("bounds", "[0,0][0,0]"))
    except ValueError as exc:
        raise InputError(f"{source}: node {'/'.join(map(str, path))}: {exc}") from None
    node = Node(
        text=element.get("text", ""),
        resource_id=element.get("resource-id", ""),
        class_name=element.get("class", ""),
        package=element.get("package", ""),
        content_desc=element.get("content-desc", ""),
        clickable=_flag(element, "clickable"),
        checkable=_flag(element, "checkable"),
        checked=_flag(element, "checked"),
        enabled=element.get("enabled", "true").lower() == "true",
        bounds=bounds,
        depth=depth,
        index_path=path,
    )
    for i, child in enumerate(e for e in element if e.tag == "node"):
        node.children.append(_node(child, depth + 1, (*path, i), source))
    return node


def parse_hierarchy(xml: str, *, source: str = "<hierarchy>") -> Hierarchy:
    """Parse uiautomator XML; malformed input is an :class:`InputError` naming line and column."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(
            f"{source}:{line}:{column}: not well-formed uiautomator XML ({exc}); "
            "expected the output of uiautomator2 dump_hierarchy()"
        ) from None
    if root.tag == "node":
        return Hierarchy(roots=[_node(root, 0, (0,), source)])
    if root.tag != "hierarchy":
        raise InputError(f"{source}: root element is <{root.tag}>, expected <hierarchy>")
    rotation = int(root.get("rotation", "0") or 0)
    roots = [_node(e, 0, (i,), source) for i, e in enumerate(x for x in root if x.tag == "node")]
    return Hierarchy(roots=roots, rotation=rotation)
