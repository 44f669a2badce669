"""Running a scenario's steps against a ``UiDriver``, recording each step on the timeline.

The consent moment is an observed event: the runner records the screen (dump and
screenshot) when the dialog is seen, then ``consent.shown``, taps, and records
``consent.accept`` / ``consent.reject`` with the tapped control.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.errors import ElementNotFound, UiError
from harness.recorder import Recorder
from harness.scenario.model import Scenario, Selector, Step
from harness.ui.base import UiDriver
from harness.ui.hierarchy import Hierarchy, Node, parse_hierarchy

log = logging.getLogger(__name__)

#: Steps after which the screen is recorded (click and consent record it before the tap).
_SCREEN_AFTER = frozenset({"launch", "restart", "back", "home", "press", "background"})


class AppControl(Protocol):
    """What the scenario needs from the session to (re)start the instrumented app."""

    package: str

    def launch(self) -> None: ...

    def restart(self) -> None: ...

    def check(self) -> None:
        """Raise if evidence is being lost (capture down, recorder failing, app crashed)."""
        ...


class ScenarioRunner:
    def __init__(self, driver: UiDriver, app: AppControl, recorder: Recorder, *,
                 poll: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        self.driver = driver
        self.app = app
        self.recorder = recorder
        self.poll = poll
        self.sleep = sleep
        self.consent: str | None = None

    def run(self, scenario: Scenario) -> None:
        for index, step in enumerate(scenario.steps, 1):
            self.app.check()
            log.info("step %d/%d: %s", index, len(scenario.steps), step.describe())
            self.recorder.record("ui.step", {"index": index, "action": step.kind,
                                             "detail": step.describe(), "line": step.line},
                                 source="ui")
            self._run_step(step, index)
            if step.kind in _SCREEN_AFTER:
                self._screen(f"step{index}-{step.kind}")
        self.app.check()

    # -- helpers --------------------------------------------------------------------------

    def _hierarchy(self) -> tuple[str, Hierarchy]:
        xml = self.driver.dump_hierarchy()
        return xml, parse_hierarchy(xml, source="device window")

    def _screen(self, label: str, xml: str | None = None) -> dict[str, str]:
        try:
            xml = xml if xml is not None else self.driver.dump_hierarchy()
            png: bytes | None = self.driver.screenshot()
        except UiError as exc:
            log.warning("screenshot for %s failed: %s", label, exc)
            png = None
        return self.recorder.save_screen(label, xml, png)

    def _find(self, hierarchy: Hierarchy, selector: Selector) -> Node | None:
        nodes = hierarchy.find(text=selector.text, resource_id=selector.resource_id,
                               text_contains=selector.text_contains)
        return nodes[0] if nodes else None

    def _wait_for(self, selector: Selector, timeout: float) -> tuple[str, Node] | None:
        deadline = time.monotonic() + timeout
        while True:
            xml, hierarchy = self._hierarchy()
            node = self._find(hierarchy, selector)
            if node is not None:
                return xml, node
            if time.monotonic() >= deadline:
                return None
            self.app.check()
            self.sleep(self.poll)

    def _foreground(self) -> None:
        self.recorder.record("app.foreground", {"package": self.app.package}, source="ui")

    # -- steps ----------------------------------------------------------------------------

    def _run_step(self, step: Step, index: int) -> None:
        kind = step.kind
        if kind == "launch":
            self.app.launch()
            self._foreground()
        elif kind == "restart":
            self.app.restart()
            self._foreground()
        elif kind == "wait":
            self._idle(step.seconds or 0)
        elif kind == "wait_for":
            assert step.selector is not None
            if self._wait_for(step.selector, step.timeout or 20) is None:
                self._screen(f"step{index}-not-found")
                raise ElementNotFound(f"scenario line {step.line}: nothing matching "
                                      f"{step.selector.describe()} appeared within "
                                      f"{step.timeout:g}s")
        elif kind == "click":
            self._click(step, index)
        elif kind in ("back", "home"):
            self.driver.press(kind)
            if kind == "home":
                self.recorder.record("app.background", {"package": self.app.package},
                                     source="ui")
        elif kind == "press":
            self.driver.press(step.action or "enter")
        elif kind == "background":
            self.driver.press("home")
            self.recorder.record("app.background", {"package": self.app.package}, source="ui")
            self._idle(step.seconds or 0)
            self.driver.app_start(self.app.package)
            self._foreground()
        elif kind == "screenshot":
            self._screen(step.action or f"step{index}")
        elif kind == "consent":
            self._consent(step, index)
        elif kind == "permission":
            self._permission(step, index)

    def _idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.app.check()
            self.sleep(min(left, 1.0))

    def _click(self, step: Step, index: int) -> None:
        if step.point is not None:
            self._screen(f"step{index}-click")
            self.driver.click(*step.point)
            return
        assert step.selector is not None
        found = self._wait_for(step.selector, step.timeout or 10)
        if found is None:
            self._screen(f"step{index}-not-found")
            raise ElementNotFound(f"scenario line {step.line}: no element matching "
                                  f"{step.selector.describe()} to click")
        xml, node = found
        self._screen(f"step{index}-click", xml)
        self.driver.click(*node.center)

    def _consent(self, step: Step, index: int) -> None:
        action = step.action or "accept"
        found = self._find_consent_control(step, action)
        if found is None:
            shot = self._screen(f"step{index}-consent-not-found")
            self.recorder.record("consent.not_found", {"step": index, "action": action,
                                                       "line": step.line, **shot}, source="ui")
            log.warning("scenario line %d: no consent dialog with a %s control within %gs; the "
                        "whole run counts as before consent", step.line, action, step.timeout)
            return
        xml, control, detection = found
        shot = self._screen(f"consent-{action}", xml)
        self.recorder.record("consent.shown", {"step": index, **shot, **detection}, source="ui")
        # The consent moment is the tap itself: what the app does in response comes after it.
        tapped = time.time()
        self.driver.click(*control["center"])
        self.recorder.record(f"consent.{action}", {"step": index, "control": control, **shot},
                             t=tapped, source="ui")
        self.consent = action

    def _find_consent_control(self, step: Step, action: str
                              ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        deadline = time.monotonic() + (step.timeout or 30)
        while True:
            xml, hierarchy = self._hierarchy()
            if step.selector is not None:
                node = self._find(hierarchy, step.selector)
                if node is not None:
                    control = {"text": node.label, "resource_id": node.resource_id,
                               "bounds": list(node.bounds), "center": list(node.center)}
                    return xml, control, {"by": "selector",
                                          "selector": step.selector.describe()}
            else:
                from harness.ui.consent import detect

                detection = detect(hierarchy)
                chosen = detection.accept if action == "accept" else detection.reject
                if detection.dialog == "consent" and chosen is not None:
                    control = {**chosen.to_json(), "center": list(chosen.center)}
                    return xml, control, {"by": "detector", "detection": detection.to_json()}
            if time.monotonic() >= deadline:
                return None
            self.app.check()
            self.sleep(self.poll)

    def _permission(self, step: Step, index: int) -> None:
        from harness.ui.consent import is_permission_dialog

        deadline = time.monotonic() + (step.timeout or 30)
        while True:
            xml, hierarchy = self._hierarchy()
            prompt = is_permission_dialog(hierarchy)
            if prompt is not None:
                control = prompt.allow if step.action == "allow" else prompt.deny
                if control is not None:
                    shot = self._screen(f"permission-{step.action}", xml)
                    tapped = time.time()
                    self.driver.click(*control.center)
                    self.recorder.record("permission.answer", {"step": index,
                                                               "answer": step.action,
                                                               "control": control.to_json(),
                                                               **shot}, t=tapped, source="ui")
                    return
            if time.monotonic() >= deadline:
                self.recorder.record("permission.not_found", {"step": index}, source="ui")
                return
            self.sleep(self.poll)
