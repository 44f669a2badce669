"""Scenarios written in Python: ``steps.launch().wait(2).consent("reject").restart()``.

The builder only collects the same step items a YAML file holds and hands them to
:func:`harness.scenario.loader.parse_scenario`, so a Python scenario is checked by exactly the
rules (and gives exactly the messages) of a scenario file.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from harness.errors import ScenarioError
from harness.scenario.loader import parse_scenario
from harness.scenario.model import PermissionPolicy, Scenario


def _selector(text: str | None, resource_id: str | None,
              text_contains: str | None) -> dict[str, str]:
    given = {"text": text, "resource_id": resource_id, "text_contains": text_contains}
    return {key: value for key, value in given.items() if value is not None}


class Steps:
    """An immutable chain of scenario steps; every method returns a new, longer chain, so a
    shared prefix (``start = steps.launch().wait(3)``) can be extended safely."""

    __slots__ = ("_items", "_options")

    def __init__(self, items: tuple[Any, ...] = (), options: dict[str, Any] | None = None
                 ) -> None:
        self._items = items
        self._options = dict(options or {})

    def _add(self, item: Any) -> Steps:
        return Steps((*self._items, item), self._options)

    @property
    def items(self) -> list[Any]:
        """The steps as a scenario file writes them (``["launch", {"wait": 2}]``)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Steps({self.items!r})"

    # -- the steps (names and arguments as in a scenario file) ----------------------------

    def launch(self) -> Steps:
        return self._add("launch")

    def wait(self, seconds: float) -> Steps:
        return self._add({"wait": seconds})

    def wait_for(self, text: str | None = None, *, resource_id: str | None = None,
                 text_contains: str | None = None, timeout: float = 20) -> Steps:
        return self._add({"wait_for": {**_selector(text, resource_id, text_contains),
                                       "timeout": timeout}})

    def click(self, text: str | None = None, *, resource_id: str | None = None,
              text_contains: str | None = None, x: int | None = None, y: int | None = None,
              timeout: float | None = None) -> Steps:
        if x is not None or y is not None:
            return self._add({"click": {"x": x, "y": y}})
        value: dict[str, Any] = _selector(text, resource_id, text_contains)
        if timeout is not None:
            value["timeout"] = timeout
        return self._add({"click": value})

    def consent(self, action: str, *, text: str | None = None, resource_id: str | None = None,
                text_contains: str | None = None, timeout: float | None = None) -> Steps:
        """``accept`` or ``reject`` the consent dialog (found by the detector, or the control
        given by a selector)."""
        return self._add(self._answer("consent", action, text, resource_id, text_contains,
                                      timeout))

    def permission(self, action: str, *, text: str | None = None,
                   resource_id: str | None = None, text_contains: str | None = None,
                   timeout: float | None = None) -> Steps:
        """``allow`` or ``deny`` the runtime-permission dialog shown now."""
        return self._add(self._answer("permission", action, text, resource_id, text_contains,
                                      timeout))

    @staticmethod
    def _answer(kind: str, action: str, text: str | None, resource_id: str | None,
                text_contains: str | None, timeout: float | None) -> dict[str, Any]:
        extra: dict[str, Any] = _selector(text, resource_id, text_contains)
        if timeout is not None:
            extra["timeout"] = timeout
        return {kind: {"action": action, **extra} if extra else action}

    def back(self) -> Steps:
        return self._add("back")

    def home(self) -> Steps:
        return self._add("home")

    def restart(self) -> Steps:
        return self._add("restart")

    def background(self, seconds: float) -> Steps:
        return self._add({"background": seconds})

    def press(self, key: str) -> Steps:
        return self._add({"press": key})

    def screenshot(self, label: str) -> Steps:
        return self._add({"screenshot": label})

    def explore(self, seconds: float, max_clicks: int = 20) -> Steps:
        return self._add({"explore": {"seconds": seconds, "max_clicks": max_clicks}})

    def options(self, *, permissions: PermissionPolicy) -> Steps:
        """Scenario options (how permission dialogs met during any step are answered)."""
        return Steps(self._items, {**self._options, "permissions": permissions})

    # -- the result -----------------------------------------------------------------------

    def to_yaml(self, name: str) -> str:
        document: dict[str, Any] = {"name": name, "steps": self.items}
        if self._options:
            document["options"] = self._options
        # Flow style inside a step keeps one step per line: step k is on line k + 2.
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False,
                              default_flow_style=None, width=10_000)

    def build(self, name: str = "steps", *, source: str = "<python steps>") -> Scenario:
        """The scenario, validated like a file; a bad step raises ``ScenarioError`` naming
        ``source``, the step's number (from 1) and the step."""
        text = self.to_yaml(name)
        try:
            scenario = parse_scenario(text, source)
        except ScenarioError as exc:
            index = (exc.line or 0) - 3  # line 1: name, line 2: "steps:"
            if not 0 <= index < len(self._items):
                raise
            message = str(exc).removeprefix(f"{source}:{exc.line}: ")
            raise ScenarioError(f"step {index + 1} ({self._items[index]!r}): {message}",
                                path=source) from None
        return Scenario(name=scenario.name, steps=scenario.steps, path=source,
                        description=scenario.description or "built in Python",
                        sha256=hashlib.sha256(text.encode()).hexdigest(),
                        options=scenario.options)


#: The empty chain every Python scenario starts from.
steps = Steps()
