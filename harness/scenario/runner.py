"""Running a scenario's steps against a ``UiDriver``, recording each step on the timeline.

The consent moment is an observed event: the runner records the screen (dump and
screenshot) when the dialog is seen, then ``consent.shown``, taps, and records
``consent.accept`` / ``consent.reject`` with the tapped control and the dialog ``layer``.
After a refusal found by the detector, a second layer ("you must agree to use the app") is
refused too, never dismissed by 再想想 or accepted. On every look at the device (waits,
polls, between steps) :class:`~harness.scenario.watch.AppWatch` answers runtime-permission
dialogs by the scenario's policy and records the app leaving or regaining the foreground.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.errors import ElementNotFound, UiError
from harness.recorder import Recorder
from harness.scenario.explore import Explorer
from harness.scenario.model import DEFAULT_PERMISSION_POLICY, Scenario, Selector, Step
from harness.scenario.watch import AppWatch, Look
from harness.ui.base import UiDriver
from harness.ui.consent import detect
from harness.ui.hierarchy import Hierarchy, Node

log = logging.getLogger(__name__)

#: Steps after which the screen is recorded (click and consent record it before the tap).
_SCREEN_AFTER = frozenset({"launch", "restart", "back", "home", "press", "background"})
#: How long a refusal waits for a second consent layer, and how many layers at most.
SECOND_LAYER_WAIT = 2.0
MAX_LAYERS = 3


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
        self._rejected_layers = 0
        """Refusals since the app last started: the next dialog is layer this + 1."""
        self.watch = AppWatch(driver, recorder, app.package, policy=DEFAULT_PERMISSION_POLICY,
                              screen=self._screen)

    def run(self, scenario: Scenario) -> None:
        self.watch.policy = scenario.permission_policy
        for index, step in enumerate(scenario.steps, 1):
            self.app.check()
            if index > 1 and not self.watch.exited:
                # Between steps a dialog may have come up; one the next step answers
                # explicitly is left open for it.
                self.watch.look(index - 1, answer="ask" if step.kind == "permission" else None)
            log.info("step %d/%d: %s", index, len(scenario.steps), step.describe())
            self.recorder.record("ui.step", {"index": index, "action": step.kind,
                                             "detail": step.describe(), "line": step.line},
                                 source="ui")
            self._run_step(step, index)
            if step.kind in _SCREEN_AFTER:
                self._screen(f"step{index}-{step.kind}")
        self.app.check()

    # -- helpers --------------------------------------------------------------------------

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

    def _wait_for(self, selector: Selector, timeout: float,
                  step: int = 0) -> tuple[str, Node] | None:
        deadline = time.monotonic() + timeout
        while True:
            look = self.watch.look(step)
            if look.xml is None or look.hierarchy is None:
                return None  # the app is gone
            node = None if look.answered else self._find(look.hierarchy, selector)
            if node is not None:
                return look.xml, node
            if time.monotonic() >= deadline:
                return None
            self.app.check()
            if not look.answered:
                self.sleep(self.poll)

    def _foreground(self, cause: str) -> None:
        self._rejected_layers = 0
        self.watch.moved(True, "harness", reason=cause)

    # -- steps ----------------------------------------------------------------------------

    def _run_step(self, step: Step, index: int) -> None:
        kind = step.kind
        if kind == "launch":
            self.app.launch()
            self._foreground("launch")
        elif kind == "restart":
            self.app.restart()
            self._foreground("restart")
        elif kind == "wait":
            self._idle(step.seconds or 0, index)
        elif kind == "wait_for":
            assert step.selector is not None
            if self._wait_for(step.selector, step.timeout or 20, index) is None:
                self._screen(f"step{index}-not-found")
                raise ElementNotFound(f"scenario line {step.line}: nothing matching "
                                      f"{step.selector.describe()} appeared within "
                                      f"{step.timeout:g}s")
        elif kind == "click":
            self._click(step, index)
        elif kind in ("back", "home"):
            self.driver.press(kind)
            if kind == "home":
                self.watch.moved(False, "harness", reason="home")
            else:
                self.watch.sync(cause="harness")
        elif kind == "press":
            self.driver.press(step.action or "enter")
            self.watch.sync(cause="harness")
        elif kind == "background":
            self.driver.press("home")
            self.watch.moved(False, "harness", reason="background", seconds=step.seconds)
            self._idle(step.seconds or 0, index)
            self.driver.app_start(self.app.package)
            self.watch.moved(True, "harness", reason="background")
        elif kind == "screenshot":
            self._screen(step.action or f"step{index}")
        elif kind == "consent":
            self._consent(step, index)
        elif kind == "permission":
            self._permission(step, index)
        elif kind == "explore":
            Explorer(self.driver, self.recorder, self.watch, self._screen, self.app.check,
                     self.app.package, sleep=self.sleep, poll=self.poll,
                     ).run(index, step.seconds or 0, step.max_clicks or 20)

    def _idle(self, seconds: float, step: int = 0) -> None:
        """Wait, looking at the device every second (permission dialogs, leaving the app)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.app.check()
            if not self.watch.exited:
                self.watch.look(step)
            self.sleep(min(left, 1.0))

    def _click(self, step: Step, index: int) -> None:
        if step.point is not None:
            self._screen(f"step{index}-click")
            self.driver.click(*step.point)
            return
        assert step.selector is not None
        found = self._wait_for(step.selector, step.timeout or 10, index)
        if found is None:
            self._screen(f"step{index}-not-found")
            raise ElementNotFound(f"scenario line {step.line}: no element matching "
                                  f"{step.selector.describe()} to click")
        xml, node = found
        self._screen(f"step{index}-click", xml)
        self.driver.click(*node.center)

    def _consent(self, step: Step, index: int) -> None:
        action = step.action or "accept"
        found = self._find_consent_control(step, action, index)
        if found is None:
            shot = self._screen(f"step{index}-consent-not-found")
            self.recorder.record("consent.not_found", {"step": index, "action": action,
                                                       "line": step.line, **shot}, source="ui")
            log.warning("scenario line %d: no consent dialog with a %s control within %gs; the "
                        "whole run counts as before consent", step.line, action, step.timeout)
            return
        xml, control, detection = found
        self._answer_consent(index, action, xml, control, detection)
        if action == "reject" and step.selector is None:
            self._further_layers(index, xml)

    def _answer_consent(self, index: int, action: str, xml: str, control: dict[str, Any],
                        detection: dict[str, Any]) -> None:
        layer = self._rejected_layers + 1
        shot = self._screen(f"consent-{action}" + (f"-layer{layer}" if layer > 1 else ""), xml)
        self.recorder.record("consent.shown", {"step": index, "layer": layer, **shot,
                                               **detection}, source="ui")
        # The consent moment is the tap itself: what the app does in response comes after it.
        tapped = time.time()
        self.driver.click(*control["center"])
        self.recorder.record(f"consent.{action}", {"step": index, "layer": layer,
                                                   "control": control, **shot},
                             t=tapped, source="ui")
        self.consent = action
        self._rejected_layers = layer if action == "reject" else 0

    def _further_layers(self, index: int, previous: str) -> None:
        """Refuse every further layer ("您需要同意...才能使用": 仍不同意 / 退出 / 再想想) the
        refusal brings up, within :data:`SECOND_LAYER_WAIT` each; the same screen again is
        not a new layer (the tap did nothing), it is left for the scenario's next step."""
        while self._rejected_layers < MAX_LAYERS:
            deadline = time.monotonic() + SECOND_LAYER_WAIT
            found = None
            while found is None and time.monotonic() < deadline:
                look = self.watch.look(index)
                if look.xml is None or look.hierarchy is None:
                    return  # the app left: the refusal's outcome is on the timeline
                if not look.answered:
                    found = self._detected(look, "reject")
                if found is None:
                    self.sleep(self.poll)
            if found is None or found[0] == previous:
                return
            xml, control, detection = found
            self._answer_consent(index, "reject", xml, control, detection)
            previous = xml

    def _detected(self, look: Look, action: str
                  ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        assert look.xml is not None and look.hierarchy is not None
        xml = look.xml
        # The watch already ran the detector on this screen unless a permission dialog was on it.
        detection = look.detection or detect(look.hierarchy)
        chosen = detection.accept if action == "accept" else detection.reject
        if detection.dialog == "consent" and chosen is not None:
            control = {**chosen.to_json(), "center": list(chosen.center)}
            return xml, control, {"by": "detector", "detection": detection.to_json()}
        return None

    def _find_consent_control(self, step: Step, action: str, index: int
                              ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        deadline = time.monotonic() + (step.timeout or 30)
        while True:
            look = self.watch.look(index)
            if look.xml is None or look.hierarchy is None:
                return None  # the app is gone
            if look.answered:
                continue  # a permission dialog was in the way: look again at once
            if step.selector is not None:
                node = self._find(look.hierarchy, step.selector)
                if node is not None:
                    control = {"text": node.label, "resource_id": node.resource_id,
                               "bounds": list(node.bounds), "center": list(node.center)}
                    return look.xml, control, {"by": "selector",
                                               "selector": step.selector.describe()}
            else:
                found = self._detected(look, action)
                if found is not None:
                    return found
            if time.monotonic() >= deadline:
                return None
            self.app.check()
            self.sleep(self.poll)

    def _permission(self, step: Step, index: int) -> None:
        """An explicit answer: wait for a permission dialog and answer it as the step says
        (the policy does not answer it meanwhile)."""
        deadline = time.monotonic() + (step.timeout or 30)
        while True:
            look = self.watch.look(index, answer=step.action)
            if look.answered:
                return
            if time.monotonic() >= deadline or look.xml is None:
                shot = self._screen(f"step{index}-permission-not-found")
                self.recorder.record("permission.not_found", {"step": index, "line": step.line,
                                                              "answer": step.action, **shot},
                                     source="ui")
                log.warning("scenario line %d: no runtime-permission dialog within %gs",
                            step.line, step.timeout or 30)
                return
            self.app.check()
            self.sleep(self.poll)
