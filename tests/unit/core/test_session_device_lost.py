"""How the session tells a lost device from other faults, without a run: the periodic check,
Frida's link-lost detach reasons, failures of other layers confirmed by the device check, and
the exit status of `consentry run` when it happens."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from harness.errors import DeviceLost, InstrumentationError, UiError
from harness.scenario.loader import load_scenario
from harness.session import LosableTarget, Session, SessionOptions, SessionResult
from harness.targets.base import AppSpec

GONE = "adb: device 'emulator-5554' not found"


class Target:
    """Just the parts of a target these checks touch."""

    name = "android"

    def __init__(self) -> None:
        self.gone: str | None = None
        self.probes = 0
        self.marked: str | None = None

    def device_lost(self, *, confirm: bool = False) -> str | None:
        self.probes += 1
        return self.gone

    def device_back(self) -> bool:
        return self.gone is None

    def mark_lost(self, reason: str) -> None:
        self.marked = reason

    def leftovers(self) -> list[dict[str, str]]:
        return []


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
