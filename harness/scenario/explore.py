"""The ``explore`` step: a bounded walk through the app's screens.

Clicks clickable controls of the app not clicked before (by resource-id and label), in screen
order, until the time budget or the click budget runs out. Never taps controls of other
packages (they leave the app) nor refusal, exit, logout, uninstall or delete controls: the
exploration must not end the session or undo the consent it runs under. When a screen has
nothing new, it presses back; if back leaves the app, the app is brought back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from harness.recorder import Recorder
from harness.scenario.watch import AppWatch, ScreenSaver
from harness.ui.base import UiDriver
from harness.ui.hierarchy import Hierarchy, Node
from harness.ui.keywords import default_keywords, normalize

#: Labels (and resource-id words) never clicked: they leave, log out, delete or refuse.
AVOID = re.compile(
    r"退出|注销|卸载|删除|清除|解绑|不同意|拒绝|撤回|登出"
    r"|\b(log ?out|sign ?out|exit|quit|uninstall|delete|remove|reset|clear|revoke|withdraw"
    r"|abmelden|beenden|löschen|deinstallieren|widerrufen)\b",
    re.IGNORECASE)
#: Back presses in a row without finding anything new before the walk ends.
MAX_BACKS = 3


def _key(node: Node) -> tuple[str, str]:
    return node.resource_id, node.label.strip()


def is_safe(node: Node, package: str) -> bool:
    """A control of the app that is neither a refusal nor a way out."""
    if not (node.clickable and node.enabled and node.package == package):
        return False
    label = node.label.strip()
    if not label and not node.resource_id:
        return False
    words = node.resource_id.rsplit(":id/", 1)[-1].replace("_", " ")
    if AVOID.search(normalize(label)) or AVOID.search(words):
        return False
    return default_keywords().classify(label) != "reject" if label else True


def unvisited(hierarchy: Hierarchy, package: str,
              visited: set[tuple[str, str]]) -> Node | None:
    return next((n for n in hierarchy.nodes()
                 if is_safe(n, package) and _key(n) not in visited), None)


class Explorer:
    def __init__(self, driver: UiDriver, recorder: Recorder, watch: AppWatch,
                 screen: ScreenSaver, check: Callable[[], None], package: str, *,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 0.5) -> None:
        self.driver = driver
        self.recorder = recorder
        self.watch = watch
        self.screen = screen
        self.check = check
        self.package = package
        self.sleep = sleep
        self.poll = poll

    def run(self, step: int, seconds: float, max_clicks: int) -> int:
        """Explore; returns the number of clicks (also recorded in ``explore.done``)."""
        started = time.monotonic()
        deadline = started + seconds
        visited: set[tuple[str, str]] = set()
        clicks = backs = 0
        stopped = "time budget"
        while time.monotonic() < deadline:
            if clicks >= max_clicks:
                stopped = "click budget"
                break
            self.check()
            look = self.watch.look(step)
            if look.xml is None or look.hierarchy is None:
                stopped = "the app exited"
                break
            if look.answered:
                continue  # a permission dialog was answered: look again
            if look.prompt is not None:
                self.sleep(self.poll)  # left open (policy ask): nothing of the app to click
                continue
            if self.watch.in_foreground is False:
                self.driver.app_start(self.package)
                self.watch.moved(True, "harness", reason="explore")
                continue
            node = unvisited(look.hierarchy, self.package, visited)
            if node is None:
                if backs >= MAX_BACKS:
                    stopped = "nothing new to click"
                    break
                backs += 1
                self.driver.press("back")
                self.watch.sync(cause="harness")
                continue
            backs = 0
            visited.add(_key(node))
            clicks += 1
            shot = self.screen(f"explore-{clicks}", look.xml)
            self.recorder.record("explore.click", {
                "step": step, "n": clicks, "text": node.label.strip(),
                "resource_id": node.resource_id, "bounds": list(node.bounds), **shot},
                source="ui")
            self.driver.click(*node.center)
        self.recorder.record("explore.done", {
            "step": step, "clicks": clicks, "seconds": round(time.monotonic() - started, 3),
            "budget_s": seconds, "max_clicks": max_clicks, "stopped": stopped}, source="ui")
        return clicks
