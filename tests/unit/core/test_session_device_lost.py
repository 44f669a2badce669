"""How the session tells a lost device from other faults, without a run: the periodic check,
Frida's link-lost detach reasons, failures of other layers confirmed by the device check, and
the exit status of `consentry run` when it happens."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.errors import DeviceLost, InstrumentationError, UiError
from harness.scenario.loader import load_scenario
from harness.session import LosableTarget, Session, SessionOptions, SessionResult
from harness.targets.base import AppSpec
from tests.unit.core.losable import GONE, LosableStandIn


class Target(LosableStandIn):
    """Just the parts of a target these checks touch."""

    name = "android"


class NoDeviceTarget:
    name = "local"


class Instrumenter:
    def __init__(self, unexpected_exit: str | None) -> None:
        self.unexpected_exit = unexpected_exit


def session(tmp_path: Path, target: Any) -> Session:
    return Session(target, AppSpec(package="com.example.shop"), load_scenario("accept"),
                   SessionOptions(out=tmp_path / "run"))


def test_the_device_is_checked_every_few_seconds_not_at_every_check(tmp_path: Path) -> None:
    target = Target()
    assert isinstance(target, LosableTarget) and not isinstance(NoDeviceTarget(), LosableTarget)
    s = session(tmp_path, target)
    s.check()
    s.check()
    assert target.probes == 1  # the scenario calls check() every 0.2 s; adb is asked less
    target.gone = GONE
    s._next_probe = 0.0  # the interval has passed
    with pytest.raises(DeviceLost, match="stopped answering") as lost:
        s.check()
    assert lost.value.cause == GONE


@pytest.mark.parametrize("reason", ["device-lost", "connection-terminated"])
def test_frida_losing_its_link_is_device_lost_when_adb_agrees(tmp_path: Path,
                                                              reason: str) -> None:
    target = Target()
    s = session(tmp_path, target)
    s._instrumenter = Instrumenter(reason)  # type: ignore[assignment]
    s._next_probe = float("inf")
    target.gone = GONE
    with pytest.raises(DeviceLost, match=f"Frida lost the device \\({reason}\\)"):
        s.check()


def test_frida_losing_its_link_to_a_device_that_answers_is_frida_server(tmp_path: Path) -> None:
    s = session(tmp_path, Target())
    s._instrumenter = Instrumenter("connection-terminated")  # type: ignore[assignment]
    with pytest.raises(InstrumentationError, match="frida-server was killed or crashed"):
        s.check()


def test_an_app_crash_stays_an_app_crash(tmp_path: Path) -> None:
    s = session(tmp_path, NoDeviceTarget())
    s._instrumenter = Instrumenter("process-terminated")  # type: ignore[assignment]
    with pytest.raises(InstrumentationError, match="ended unexpectedly"):
        s.check()


def test_a_failure_elsewhere_is_device_lost_only_if_the_device_is_gone(tmp_path: Path) -> None:
    target = Target()
    s = session(tmp_path, target)
    failure = UiError("uiautomator2 could not tap (1, 2): HTTPError")
    assert s._as_lost(failure) is None
    target.gone = GONE
    lost = s._as_lost(failure)
    assert isinstance(lost, DeviceLost) and lost.cause == GONE
    assert "could not tap" in str(lost)
    assert session(tmp_path / "b", NoDeviceTarget())._as_lost(failure) is None


def test_consentry_run_exits_4_with_the_evidence_and_what_to_undo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main
    from harness.commands import run as run_command

    run_dir = tmp_path / "run"

    class LostSession:
        def __init__(self, *args: Any) -> None:
            pass

        def run(self) -> SessionResult:
            raise DeviceLost("device emulator-5554 was lost during scenario step 2/4 (wait "
                             "5s) (gone).\n  - restore http_proxy (none): adb -s emulator-5554 "
                             "shell 'settings put global http_proxy :0'",
                             result=SessionResult(run_dir, "incomplete", "device lost"))

    monkeypatch.setattr(run_command, "Session", LostSession)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = main(["run", "com.x", "--target", "local", "--command", "true", "--out",
                     str(run_dir)])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == run_command.EXIT_DEVICE_LOST == 4
    err = capsys.readouterr().err
    assert f"evidence: {run_dir}" in err
    assert "consentry: device lost: device emulator-5554 was lost during scenario step 2/4" in err
    assert "settings put global http_proxy :0" in err


def test_the_android_target_is_a_losable_target() -> None:
    from tests.unit.targets.test_android import rooted_emulator, target

    assert isinstance(target(rooted_emulator()), LosableTarget)


class ConfirmingTarget(Target):
    """Tells the cheap periodic check from the round trip made after a failure."""

    def __init__(self) -> None:
        super().__init__()
        self.confirmed = 0
        self.hung: str | None = None
        self.back = False
        self.back_asked = 0

    def device_lost(self, *, confirm: bool = False) -> str | None:
        self.probes += 1
        if confirm:
            self.confirmed += 1
            return self.gone or self.hung
        return self.gone

    def device_back(self) -> bool:
        self.back_asked += 1
        return self.back


def _events(s: Session) -> list[dict[str, Any]]:
    import json

    path = s.options.out / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_failures_are_confirmed_by_a_round_trip_not_the_listing(tmp_path: Path) -> None:
    target = ConfirmingTarget()
    s = session(tmp_path, target)
    target.hung = "listed by adb but it did not answer `echo ok` within 5s: hung"
    s.check()  # the periodic check only asks adb's device list: a hung device passes
    lost = s._as_lost(UiError("uiautomator2 could not tap: timed out"))
    assert lost is not None and lost.cause == target.hung and target.confirmed == 1


def test_a_run_whose_link_broke_unnoticed_is_not_complete(tmp_path: Path) -> None:
    target = ConfirmingTarget()
    s = session(tmp_path, target)
    s._check_links()
    target.hung = "adb reverse tcp:8080 is gone, so the app's traffic no longer reaches the proxy"
    with pytest.raises(DeviceLost, match="link broke during the run") as lost:
        s._check_links()
    assert lost.value.cause == target.hung


class Canaries:
    def __init__(self, hang: threading.Event | None = None) -> None:
        self.undone = False
        self.hang = hang

    def undo(self) -> None:
        if self.hang is not None:
            self.hang.wait(10)
        self.undone = True

    def pending(self) -> list[dict[str, str]]:
        return [] if self.undone else [{
            "step": "restore device_name",
            "by_hand": "adb -s emulator-5554 shell 'settings put global device_name Pixel'"}]


def _lost_session(tmp_path: Path, target: ConfirmingTarget) -> Session:
    s = session(tmp_path, target)
    s._device_lost(DeviceLost("gone", cause=GONE), during="scenario")
    return s


def test_cleanup_asks_once_whether_a_lost_device_came_back_and_then_does_its_work(
        tmp_path: Path) -> None:
    target = ConfirmingTarget()
    target.back = True  # e.g. the adb server restarted and the device is listed again
    s = _lost_session(tmp_path, target)
    canaries = Canaries()
    s._undo_canaries(canaries)  # type: ignore[arg-type]
    s._undo_canaries(Canaries())  # type: ignore[arg-type]
    assert canaries.undone and s._not_restored == [] and target.back_asked == 1
    assert "device.back" in [e["type"] for e in _events(s)]


def test_canaries_left_on_a_device_still_gone_are_listed_with_their_command(
        tmp_path: Path) -> None:
    target = ConfirmingTarget()
    s = _lost_session(tmp_path, target)
    canaries = Canaries()
    s._undo_canaries(canaries)  # type: ignore[arg-type]
    assert not canaries.undone
    assert s._not_restored == [{
        "step": "restore device_name",
        "by_hand": "adb -s emulator-5554 shell 'settings put global device_name Pixel'",
        "why": f"device lost ({GONE})"}]


def test_a_canary_undo_hung_on_a_hung_device_is_cut_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import session as session_module

    monkeypatch.setattr(session_module, "CLEANUP_TIMEOUT", 0.2)
    target = ConfirmingTarget()
    target.hung = "listed by adb but it did not answer `echo ok` within 5s: hung"
    s = session(tmp_path, target)
    release = threading.Event()
    try:
        s._undo_canaries(Canaries(hang=release))  # type: ignore[arg-type]
    finally:
        release.set()
    assert s._lost is not None and s._lost.cause == target.hung
    assert s._lost_during == "removing the canaries"
    assert [e["step"] for e in s._not_restored] == ["restore device_name"]


class HangingInstrumenter:
    unexpected_exit = None

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.detached = False

    def expect_exit(self) -> None:
        pass

    def flush(self) -> None:
        self.release.wait(10)  # Frida's flush on a frozen device

    def detach(self) -> None:
        self.detached = True


def test_stopping_the_app_on_a_hung_device_is_cut_off_and_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import session as session_module
    from harness.targets.base import SpawnedApp

    monkeypatch.setattr(session_module, "CLEANUP_TIMEOUT", 0.2)
    target = ConfirmingTarget()
    target.hung = "listed by adb but it did not answer `echo ok` within 5s: hung"
    target.stop_app = lambda app: None  # type: ignore[attr-defined]
    s = session(tmp_path, target)
    release = threading.Event()
    s._instrumenter = HangingInstrumenter(release)  # type: ignore[assignment]
    s._spawned = SpawnedApp(pid=1, process="com.example.shop")
    started = time.monotonic()
    try:
        s._stop_app_quietly()
        assert time.monotonic() - started < 5
        assert s._lost is not None and s._lost_during == "stopping the app"
        stops = [e for e in _events(s) if e["type"] == "app.stop"]
        assert len(stops) == 1 and stops[0]["data"]["done"] is False
        assert target.marked == target.hung
    finally:
        release.set()  # only now may the abandoned flush go on
