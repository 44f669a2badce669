"""Controls a user can tap, found in a window hierarchy and labelled by the keyword table.

A control is where the tap lands: the labelled view itself when it is clickable, else the
clickable wrapper around it (a ``LinearLayout`` around an icon and a "不同意" TextView, or a
Compose ``View`` around its text), as long as that wrapper holds no other label.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.ui.hierarchy import Hierarchy, Node, area_of, center_of
from harness.ui.keywords import Keywords, LabelKind

#: How many levels above a non-clickable label to look for its clickable wrapper.
_WRAPPER_LEVELS = 2
_NOT_BUTTONS = ("EditText", "CheckBox", "Switch", "RadioButton", "ToggleButton")


@dataclass(frozen=True)
class Control:
    """A tappable consent control."""

    text: str
    """What the user reads on it."""
    resource_id: str
    """Its resource-id (or the id of the text inside it), "" when the view has none."""
    bounds: tuple[int, int, int, int]
    """Screen area of the tap target, ``(x1, y1, x2, y2)``."""

    @property
    def center(self) -> tuple[int, int]:
        return center_of(self.bounds)

    @property
    def area(self) -> int:
        return area_of(self.bounds)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "resource_id": self.resource_id, "bounds": list(self.bounds)}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A control together with what its label means and where it sits in the tree."""

    kind: LabelKind
    control: Control
    target: Node


class Tree:
    """Parent links for a hierarchy (``Node`` only knows its children)."""

    def __init__(self, hierarchy: Hierarchy) -> None:
        self.hierarchy = hierarchy
        self.by_path = {node.index_path: node for node in hierarchy.nodes()}

    def parent(self, node: Node) -> Node | None:
        return self.by_path.get(node.index_path[:-1]) if len(node.index_path) > 1 else None

    def ancestors(self, node: Node) -> Iterator[Node]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)


def _labels(node: Node) -> set[str]:
    return {n.label.strip() for n in node.walk() if n.label.strip()}


def tap_target(tree: Tree, node: Node) -> Node | None:
    """The clickable view a tap on ``node``'s label reaches, or None if it is only text."""
    if any(node.class_name.endswith(kind) for kind in _NOT_BUTTONS) or node.checkable:
        return None
    if node.clickable:
        return node
    for level, ancestor in enumerate(tree.ancestors(node)):
        if level >= _WRAPPER_LEVELS:
            break
        if ancestor.clickable:
            # A clickable dialog root also "contains" this label; it is not a button.
            own = _labels(ancestor) == {node.label.strip()} and not ancestor.checkable
            return ancestor if own else None
    return None


def find_candidates(tree: Tree, keywords: Keywords) -> list[Candidate]:
    """Every tappable control whose label means accept, reject or neither, in tree order."""
    found: list[Candidate] = []
    seen: set[tuple[int, ...]] = set()
    for node in tree.hierarchy.nodes():
        label = node.label.strip()
        if label:
            kind = keywords.classify(label)
        elif node.clickable and node.resource_id and not _labels(node):
            kind = keywords.classify_id(node.resource_id)  # an icon button: only its id speaks
        else:
            continue
        if kind is None:
            continue
        target = tap_target(tree, node)
        if target is None or target.index_path in seen:
            continue
        seen.add(target.index_path)
        control = Control(text=label, resource_id=target.resource_id or node.resource_id,
                          bounds=target.bounds)
        found.append(Candidate(kind, control, target))
    return found


def other_action_controls(tree: Tree, keywords: Keywords) -> list[Node]:
    """Clickable login / sign-up / update / rating controls."""
    return [n for n in tree.hierarchy.nodes()
            if n.label.strip() and keywords.is_other_action(n.label)
            and tap_target(tree, n) is not None]
