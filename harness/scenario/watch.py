"""What the runner notices on every look at the device, whatever step runs.

- Runtime-permission dialogs (the permission controller's, AOSP, Google or vendor): recorded as
  ``permission.prompt`` (package, message, screen) and answered by the scenario's policy
  (``allow`` / ``deny``, or ``ask``: leave it for the scenario), recorded as
  ``permission.answer`` with the tapped control and the tap time.
- The privacy/consent dialog, whatever step runs: ``consent.dialog_seen`` the first time a
  dialog appears (again after it went away), with the screen, the detected controls and
  ``not_before``: the last look that did not show it. The event time is the look that did, so
  the dialog was on screen at the latest then and not before ``not_before``; a read before
  ``not_before`` happened before the user could even see the dialog.
- The app's place on screen: ``app.background`` when another package comes to the front,
  ``app.foreground`` when it comes back, ``app.exit`` when its process is gone. ``cause`` says
  whether the harness did it (home, back, launch) or the app did (e.g. it quit after a
  refusal), so rules can judge from the bundle alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import UiError
from harness.recorder import Recorder
from harness.ui.base import UiDriver
from harness.ui.consent import Detection, PermissionPrompt, detect, is_permission_dialog
from harness.ui.hierarchy import Hierarchy, parse_hierarchy
from harness.ui.keywords import default_keywords

log = logging.getLogger(__name__)

#: Saves one screen (label, dump or None to dump now); returns the paths for the event.
ScreenSaver = Callable[[str, str | None], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Look:
    """One look at the device. ``xml`` is None when the app's process is gone."""

    xml: str | None
    hierarchy: Hierarchy | None
    answered: bool = False
    """A permission dialog was answered: the screen has changed since ``xml``."""
    prompt: PermissionPrompt | None = None
    """The permission dialog left open (policy ``ask``, or an explicit step to come)."""
    detection: Detection | None = None
    """What the consent detector saw on ``xml`` (None when a permission dialog was on it)."""


class AppWatch:
    def __init__(self, driver: UiDriver, recorder: Recorder, package: str, *,
                 policy: str, screen: ScreenSaver) -> None:
        self.driver = driver
        self.recorder = recorder
        self.package = package
        self.policy = policy
        self._screen = screen
        self.in_foreground: bool | None = None
        self.exited = False
        self._open_prompt: str | None = None
        self._unanswerable: str | None = None
        self._background_since: float | None = None
        self._controllers = default_keywords().permission.packages
        self._dialog_open = False
        self._last_clear: float | None = None
        """Start time of the last look that showed no consent dialog."""

    # -- foreground -----------------------------------------------------------------------

    def _ours(self, package: str) -> bool:
        # The permission dialog is the controller's activity on top of the app: still the app.
        return package == self.package or package in self._controllers

    def moved(self, foreground: bool, cause: str, **extra: object) -> None:
        """The harness put the app in the foreground (launch, app_start) or took it away."""
        if foreground:
            self.exited = False
            self._record_foreground(cause, extra)
        else:
            self._record_background(cause, None, extra)

    def _record_foreground(self, cause: str, extra: dict[str, object]) -> None:
        data: dict[str, object] = {"package": self.package, "cause": cause, **extra}
        if self._background_since is not None:
            data["background_s"] = round(time.monotonic() - self._background_since, 3)
        self.recorder.record("app.foreground", data, source="ui")
        self.in_foreground, self._background_since = True, None

    def _record_background(self, cause: str, other: str | None,
                           extra: dict[str, object]) -> None:
        data: dict[str, object] = {"package": self.package, "cause": cause, **extra}
        if other is not None:
            data["foreground"] = other
        self.recorder.record("app.background", data, source="ui")
        self.in_foreground, self._background_since = False, time.monotonic()

    def sync(self, cause: str = "app") -> None:
        """Ask the driver which app is in front and record any change with ``cause``."""
        if self.exited:
            return
        try:
            current = self.driver.foreground_app()
        except UiError as exc:
            self.exited = True
            self.recorder.record("app.exit", {"package": self.package, "observed_by": "ui",
                                              "cause": cause, "reason": str(exc)}, source="ui")
            return
        if current is None:
            return
        ours = self._ours(current)
        if ours and self.in_foreground is False:
            self._record_foreground(cause, {})
        elif not ours and self.in_foreground is not False:
            self._record_background(cause, current, {})

    # -- permission dialogs ---------------------------------------------------------------

    def look(self, step: int, answer: str | None = None) -> Look:
        """Sync the foreground, dump the screen, handle a permission dialog on it.

        ``answer`` overrides the policy (an explicit ``permission:`` step, or ``ask`` to leave
        the dialog for one); ``ask`` leaves the dialog open and returns it in
        :attr:`Look.prompt`.
        """
        self.sync()
        if self.exited:
            return Look(None, None)
        looked = time.time()
        try:
            xml = self.driver.dump_hierarchy()
        except UiError:
            self.sync()  # the process may have gone between the two calls
            if self.exited:
                return Look(None, None)
            raise
        hierarchy = parse_hierarchy(xml, source="device window")
        prompt = is_permission_dialog(hierarchy)
        if prompt is None:
            self._open_prompt = None
            detection = detect(hierarchy)
            self._consent_dialog(detection, xml, step, looked)
            return Look(xml, hierarchy, detection=detection)
        shot = self._prompt_seen(prompt, xml, step)
        choice = answer or self.policy
        if choice not in ("allow", "deny"):
            return Look(xml, hierarchy, prompt=prompt)
        self.answer(prompt, choice, step, shot, auto=answer is None)
        return Look(xml, hierarchy, answered=True)

    def _consent_dialog(self, detection: Detection, xml: str, step: int, looked: float) -> None:
        if detection.dialog != "consent":
            self._dialog_open, self._last_clear = False, looked
            return
        if self._dialog_open:
            return
        self._dialog_open = True
        shot = self._screen("consent-dialog", xml)
        self.recorder.record("consent.dialog_seen", {
            "step": step, "not_before": self._last_clear,
            "accept": detection.accept.text if detection.accept else None,
            "reject": detection.reject.text if detection.reject else None,
            "findings": list(detection.findings), **shot}, source="ui")

    def _prompt_seen(self, prompt: PermissionPrompt, xml: str, step: int) -> dict[str, str]:
        key = f"{prompt.package}|{prompt.message}"
        if self._open_prompt == key:
            return {}
        self._open_prompt = key
        shot = self._screen("permission-prompt", xml)
        self.recorder.record("permission.prompt", {
            "step": step, "package": prompt.package, "message": prompt.message,
            "policy": self.policy, **shot}, source="ui")
        return shot

    def answer(self, prompt: PermissionPrompt, choice: str, step: int,
               shot: dict[str, str], *, auto: bool) -> None:
        control = prompt.allow if choice == "allow" else prompt.deny
        if control is None:
            # Loud, not silent: the dialog stays and the evidence says why (once per dialog).
            if self._unanswerable == self._open_prompt:
                return
            self._unanswerable = self._open_prompt
            self.recorder.record("permission.unanswerable", {
                "step": step, "answer": choice, "package": prompt.package,
                "message": prompt.message, **shot}, source="ui")
            log.warning("permission dialog from %s has no %s button; left open",
                        prompt.package, choice)
            return
        tapped = time.time()
        self.driver.click(*control.center)
        self._open_prompt = None
        self.recorder.record("permission.answer", {
            "step": step, "answer": choice, "auto": auto, "control": control.to_json(),
            "package": prompt.package, "message": prompt.message, **shot},
            t=tapped, source="ui")
