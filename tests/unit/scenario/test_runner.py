"""The runner's glue with a scripted fake UiDriver (screens as uiautomator XML, taps move
between them) and a real Recorder; the real pipeline is tests/integration/test_scenarios_e2e."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ScenarioError, UiError
from harness.recorder import Recorder
from harness.scenario import runner as runner_module
from harness.scenario.loader import builtin_names, load_scenario, parse_scenario
from harness.scenario.runner import ScenarioRunner

PKG = "com.example.app"
PERM = "com.google.android.permissioncontroller"
PROSE = "我们非常重视您的个人信息保护，请阅读《隐私政策》了解我们如何收集和使用您的信息。"
LAYER2 = "您需要同意《隐私政策》才能使用本应用的服务，我们仅在您同意后收集个人信息。"


def _node(text: str, rid: str, bounds: tuple[int, int, int, int], *, pkg: str = PKG,
          clickable: bool = False, cls: str = "android.widget.TextView") -> str:
    x1, y1, x2, y2 = bounds
    return (f'<node index="0" text="{text}" resource-id="{rid}" class="{cls}" package="{pkg}" '
            f'content-desc="" checkable="false" checked="false" clickable="{str(clickable).lower()}"'
            f' enabled="true" focusable="false" focused="false" scrollable="false" '
            f'long-clickable="false" password="false" selected="false" '
            f'bounds="[{x1},{y1}][{x2},{y2}]" />')


def _screen(*nodes: str, pkg: str = PKG) -> str:
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
            f'<node index="0" text="" resource-id="" class="android.widget.FrameLayout" '
            f'package="{pkg}" content-desc="" checkable="false" checked="false" '
            f'clickable="false" enabled="true" bounds="[0,0][1080,2340]">'
            + "".join(nodes) + "</node></hierarchy>")


def _button(text: str, rid: str, y: int, pkg: str = PKG) -> str:
    return _node(text, f"{pkg if pkg == PKG else 'com.android.permissioncontroller'}:id/{rid}",
                 (100, y, 980, y + 100), pkg=pkg, clickable=True, cls="android.widget.Button")


SCREENS = {
    "dialog": _screen(_node(PROSE, f"{PKG}:id/body", (100, 300, 980, 900)),
                      _button("不同意", "disagree", 1000), _button("同意", "agree", 1200)),
    "layer2": _screen(_node(LAYER2, f"{PKG}:id/body2", (100, 300, 980, 900)),
                      _button("仍不同意", "still", 1000), _button("退出", "quit", 1200),
                      _button("再想想", "reconsider", 1400)),
    "home": _screen(_node("首页", f"{PKG}:id/title", (0, 0, 1080, 200)),
                    _button("扫一扫", "scan", 400), _button("我的", "profile", 600)),
    "scan": _screen(_button("相册", "album", 400)),
    "profile": _screen(_button("退出登录", "logout", 400), _button("设置", "settings", 600)),
    "permission": _screen(
        _node("Allow App to access this device's location?",
              "com.android.permissioncontroller:id/permission_message", (100, 300, 980, 500),
              pkg=PERM),
        _button("While using the app", "permission_allow_foreground_only_button", 1000, PERM),
        _button("Don't allow", "permission_deny_button", 1200, PERM), pkg=PERM),
    "launcher": _screen(pkg="com.android.launcher3"),
    "allow_only": _screen(
        _node("Allow App to send you notifications?",
              "com.android.permissioncontroller:id/permission_message", (100, 300, 980, 500),
              pkg=PERM),
        _button("Allow", "permission_allow_button", 1000, PERM), pkg=PERM),
}
#: (screen, button resource-id name) -> next screen
MOVES = {("dialog", "disagree"): "layer2", ("dialog", "agree"): "home",
         ("layer2", "still"): "home", ("layer2", "quit"): "launcher",
         ("layer2", "reconsider"): "dialog", ("home", "scan"): "scan",
         ("home", "profile"): "profile", ("profile", "logout"): "dialog",
         ("profile", "settings"): "profile"}


@dataclass
class FakeDriver:
    screen: str
    moves: dict[tuple[str, str], str] = field(default_factory=lambda: dict(MOVES))
    after_permission: str = "home"
    gone: bool = False
    taps: list[str] = field(default_factory=list)
    queue: list[str] = field(default_factory=list)
    """Screens shown in turn on each dump (a dialog that pops up by itself)."""

    def dump_hierarchy(self) -> str:
        if self.gone:
            raise UiError("no app process runs")
        if self.queue:
            self.screen = self.queue.pop(0)
        return SCREENS[self.screen]

    def click(self, x: int, y: int) -> None:
        for rid in ("disagree", "agree", "still", "quit", "reconsider", "scan", "profile",
                    "album", "logout", "settings", "permission_allow_foreground_only_button",
                    "permission_deny_button"):
            if f"id/{rid}\"" in SCREENS[self.screen]:
                index = SCREENS[self.screen].index(f"id/{rid}\"")
                bounds = SCREENS[self.screen][index:].split('bounds="', 1)[1].split('"', 1)[0]
                x1, y1, x2, y2 = (int(v) for v in bounds.replace("][", ",").strip("[]").split(","))
                if x1 <= x < x2 and y1 <= y < y2:
                    self.taps.append(rid)
                    if rid.startswith("permission_"):
                        self.screen = self.after_permission
                    else:
                        self.screen = self.moves.get((self.screen, rid), self.screen)
                    return

    def press(self, key: str) -> None:
        self.taps.append(f"key:{key}")
        if key == "home" or (key == "back" and self.screen == "home"):
            self.screen = "launcher"
        elif key == "back":
            self.screen = "home"

    def screenshot(self) -> bytes:
        return b"\x89PNG\r\n\x1a\nfake"

    def app_start(self, package: str) -> None:
        if self.screen == "launcher":
            self.screen = "home"

    def app_stop(self, package: str) -> None:
        self.screen = "launcher"

    def foreground_app(self) -> str | None:
        if self.gone:
            raise UiError("no app process runs")
        return {"launcher": "com.android.launcher3", "permission": PERM}.get(self.screen, PKG)


@dataclass
class FakeApp:
    driver: FakeDriver
    package: str = PKG
    checks: int = 0

    def launch(self) -> None:
        if self.driver.screen == "launcher":
            self.driver.screen = "dialog"

    def restart(self) -> None:
        self.driver.screen = "dialog"

    def check(self) -> None:
        self.checks += 1


def _run(tmp_path: Path, steps: str, driver: FakeDriver, options: str = ""
         ) -> list[dict[str, Any]]:
    scenario = parse_scenario(f"name: t\n{options}steps:\n{steps}")
    recorder = Recorder(tmp_path / "run")
    ScenarioRunner(driver, FakeApp(driver), recorder, poll=0.01,
                   sleep=lambda s: None).run(scenario)
    recorder.close()
    return [json.loads(line) for line in
            (tmp_path / "run" / "events.jsonl").read_text().splitlines()]


def _types(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


@pytest.fixture(autouse=True)
def _short_layer_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "SECOND_LAYER_WAIT", 0.2)


def test_reject_refuses_the_second_layer_and_never_reconsiders(tmp_path: Path) -> None:
    driver = FakeDriver("launcher")
    events = _run(tmp_path, "  - launch\n  - consent: reject\n", driver)
    assert driver.taps == ["disagree", "still"]
    rejects = _types(events, "consent.reject")
    assert [r["layer"] for r in rejects] == [1, 2]
    assert rejects[1]["control"]["text"] == "仍不同意"
    assert [s["layer"] for s in _types(events, "consent.shown")] == [1, 2]
    assert all((tmp_path / "run" / r["screen"]).is_file() for r in rejects)


def test_a_reject_that_changes_nothing_is_not_a_second_layer(tmp_path: Path) -> None:
    driver = FakeDriver("launcher")
    driver.moves[("dialog", "disagree")] = "dialog"  # the app ignores the tap
    events = _run(tmp_path, "  - launch\n  - consent: reject\n", driver)
    assert driver.taps == ["disagree"]
    assert [r["layer"] for r in _types(events, "consent.reject")] == [1]


def test_accept_resets_layers_and_records_detection(tmp_path: Path) -> None:
    driver = FakeDriver("launcher")
    events = _run(tmp_path, "  - launch\n  - consent: accept\n", driver)
    (shown,) = _types(events, "consent.shown")
    assert shown["by"] == "detector" and shown["detection"]["accept"]["text"] == "同意"
    assert driver.taps == ["agree"]


@pytest.mark.parametrize(("policy", "tap", "answers"), [
    ("", "permission_deny_button", ["deny"]),
    ("options: {permissions: allow}\n", "permission_allow_foreground_only_button", ["allow"]),
    ("options: {permissions: ask}\n", None, []),
])
def test_permission_dialog_during_a_wait_follows_the_policy(
        tmp_path: Path, policy: str, tap: str | None, answers: list[str]) -> None:
    driver = FakeDriver("home", queue=["home", "permission"])
    events = _run(tmp_path, "  - wait: 0.05\n  - wait: 0.05\n", driver, policy)
    (prompt,) = _types(events, "permission.prompt")
    assert prompt["package"] == PERM and "location" in prompt["message"]
    assert [a["answer"] for a in _types(events, "permission.answer")] == answers
    assert all(a["auto"] for a in _types(events, "permission.answer"))
    assert driver.taps == ([tap] if tap else [])
    # The dialog is the controller on top of the app, not the app leaving.
    assert not _types(events, "app.background")


def test_explicit_permission_step_overrides_the_policy(tmp_path: Path) -> None:
    driver = FakeDriver("permission")
    events = _run(tmp_path, "  - permission: allow\n", driver)
    (answer,) = _types(events, "permission.answer")
    assert answer["answer"] == "allow" and answer["auto"] is False
    assert answer["control"]["resource_id"].endswith("permission_allow_foreground_only_button")


def test_a_dialog_between_steps_is_left_for_the_explicit_permission_step(
        tmp_path: Path) -> None:
    driver = FakeDriver("home", queue=["permission"])
    events = _run(tmp_path, "  - wait: 0\n  - permission: allow\n", driver)
    (answer,) = _types(events, "permission.answer")
    assert answer["answer"] == "allow" and answer["auto"] is False
    assert len(_types(events, "permission.prompt")) == 1


def test_missing_permission_dialog_is_recorded(tmp_path: Path) -> None:
    events = _run(tmp_path, "  - permission: {action: deny, timeout: 0.05}\n",
                  FakeDriver("home"))
    assert _types(events, "permission.not_found")


def test_app_leaving_after_a_refusal_is_recorded_with_its_cause(tmp_path: Path) -> None:
    driver = FakeDriver("launcher")
    driver.moves[("dialog", "disagree")] = "launcher"  # the app quits on refusal
    events = _run(tmp_path, "  - launch\n  - consent: reject\n  - wait: 0.05\n", driver)
    (left,) = _types(events, "app.background")
    assert left["cause"] == "app" and left["foreground"] == "com.android.launcher3"
    assert _types(events, "app.foreground")[0]["cause"] == "harness"


def test_process_gone_is_an_app_exit(tmp_path: Path) -> None:
    driver = FakeDriver("launcher")
    events = _run(tmp_path, "  - launch\n", driver)
    driver.gone = True
    recorder_dir = tmp_path / "second"
    recorder = Recorder(recorder_dir)
    runner = ScenarioRunner(driver, FakeApp(driver), recorder, poll=0.01, sleep=lambda s: None)
    runner.watch.in_foreground = True
    runner.watch.sync()
    runner.watch.sync()
    recorder.close()
    exits = [json.loads(line) for line in (recorder_dir / "events.jsonl").read_text()
             .splitlines()]
    assert [e["type"] for e in exits] == ["app.exit"]
    assert exits[0]["data"]["observed_by"] == "ui"
    assert _types(events, "app.foreground")


def test_harness_home_press_is_not_the_app_leaving(tmp_path: Path) -> None:
    driver = FakeDriver("home")
    events = _run(tmp_path, "  - background: 0.05\n", driver)
    backs = _types(events, "app.background")
    assert [b["cause"] for b in backs] == ["harness"]
    assert _types(events, "app.foreground")[-1]["cause"] == "harness"


def test_explore_clicks_new_safe_controls_only(tmp_path: Path) -> None:
    driver = FakeDriver("home")
    events = _run(tmp_path, "  - explore: {seconds: 5, max_clicks: 10}\n", driver)
    clicked = [c["text"] for c in _types(events, "explore.click")]
    assert clicked[:2] == ["扫一扫", "相册"]
    assert "设置" in clicked and "退出登录" not in clicked
    assert len(clicked) == len(set(clicked))
    (done,) = _types(events, "explore.done")
    assert done["clicks"] == len(clicked) and done["stopped"] == "nothing new to click"
    assert all((tmp_path / "run" / c["screen"]).is_file() for c in _types(events,
                                                                           "explore.click"))


def test_explore_respects_the_click_budget(tmp_path: Path) -> None:
    events = _run(tmp_path, "  - explore: {seconds: 5, max_clicks: 1}\n", FakeDriver("home"))
    assert len(_types(events, "explore.click")) == 1
    assert _types(events, "explore.done")[0]["stopped"] == "click budget"


def test_a_dialog_without_the_policy_button_is_recorded_once_and_left(tmp_path: Path) -> None:
    driver = FakeDriver("allow_only")
    events = _run(tmp_path, "  - wait: 0.05\n  - wait: 0.05\n  - wait: 0.05\n", driver)
    assert len(_types(events, "permission.prompt")) == 1
    (unanswerable,) = _types(events, "permission.unanswerable")
    assert unanswerable["answer"] == "deny"
    assert driver.taps == [] and not _types(events, "permission.answer")


# -- the step set and options the runner relies on (loader) --------------------------------

def test_builtin_scenario_set_is_documented_and_denies_permissions() -> None:
    names = {"idle", "accept", "reject", "reject-restart", "accept-background",
             "permission-deny", "explore"}
    assert names <= set(builtin_names())
    for name in names:
        scenario = load_scenario(name)
        assert scenario.description.startswith(f"{name}: "), name
        assert scenario.permission_policy == "deny"
    explore = [s for s in load_scenario("explore").steps if s.kind == "explore"]
    assert explore and explore[0].max_clicks == 30 and explore[0].seconds == 60


@pytest.mark.parametrize(("text", "message", "line"), [
    ("name: x\noptions:\n  permissions: maybe\nsteps: [launch]\n", "allow, deny, ask", 2),
    ("name: x\noptions: {colour: red}\nsteps: [launch]\n", "unknown key 'colour'", 2),
    ("name: x\nsteps:\n  - launch\n  - explore: {seconds: 5, max_clicks: 0}\n",
     "max_clicks", 4),
    ("name: x\nsteps:\n  - launch\n  - explore: {clicks: 5}\n", "explore: expected", 4),
])
def test_bad_options_and_explore_steps_name_the_line(text: str, message: str,
                                                     line: int) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_scenario(text, "s.yaml")
    assert f"s.yaml:{line}" in str(caught.value)


def test_consent_dialog_is_noticed_by_any_step_once_per_appearance(tmp_path: Path) -> None:
    # home, then the dialog pops up during a wait and stays; later it comes back.
    driver = FakeDriver("home", queue=["home", "dialog", "dialog", "home", "dialog"])
    events = _run(tmp_path, "  - wait: 1\n", driver)
    seen = [e for e in events if e["type"] == "consent.dialog_seen"]
    assert len(seen) == 2
    first = seen[0]["data"]
    assert (first["accept"], first["reject"]) == ("同意", "不同意")
    assert first["not_before"] is not None and first["not_before"] <= seen[0]["t"]
    assert (tmp_path / "run" / first["screen"]).is_file()
    assert seen[1]["data"]["not_before"] > first["not_before"]
    assert driver.taps == []  # seeing is not answering


def test_dialog_on_the_first_look_has_no_lower_bound(tmp_path: Path) -> None:
    events = _run(tmp_path, "  - launch\n  - consent: accept\n", FakeDriver("launcher"))
    (seen,) = _types(events, "consent.dialog_seen")
    assert seen["not_before"] is None
    assert [e["type"] for e in events].index("consent.dialog_seen") < [
        e["type"] for e in events].index("consent.shown")
