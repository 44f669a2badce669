"""AndroidTarget when the device goes away: close sends nothing to a device that is gone,
lists every change it could not undo with the command that undoes it by hand, undoes them
after all when the device came back (adb server restart), and never waits long on a hung
device."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from harness.device.shell import ShellResult
from harness.errors import DeviceError, DeviceLost
from harness.targets import android
from harness.targets.base import AppSpec, ProxyEndpoint
from tests.unit.targets.test_android import PKG, rooted_emulator, target
from tests.unit.targets.test_android import proxy as proxy  # noqa: F401 - the fixture

GONE = "adb: device 'emulator-5554' not found"


def prepared(proxy: ProxyEndpoint) -> tuple[Any, android.AndroidTarget]:
    """A rooted emulator after prepare(): proxy, reverse, CA, and a frida-server we started."""
    fake = rooted_emulator()
    fake.on("^pidof frida-server$", exit_code=1)
    original_shell = fake.shell

    def shell(command: str, *, timeout: float = 60.0) -> ShellResult:
        if command.endswith("frida-server -D"):
            fake.on("^pidof frida-server$", "9001\n")
        result: ShellResult = original_shell(command, timeout=timeout)
        return result

    fake.on("^chmod 755 ").on("^kill ")
    fake.shell = shell
    t = target(fake)
    t.prepare(AppSpec(package=PKG), proxy)
    return fake, t


def test_lost_device_close_sends_nothing_and_lists_what_to_undo_by_hand(
        proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    fake.unplug(GONE)
    t.mark_lost(GONE)
    t.stop_app(AppSpec(package=PKG))  # the session's app kill: noted, not sent
    fake.log.clear()
    t.close()  # no raise: the session already fails with DeviceLost
    assert fake.log == [] and fake.probes == 1  # one check whether it came back
    left = {entry["step"]: entry for entry in t.leftovers()}
    assert left[f"stop {PKG}"]["by_hand"] == f"adb -s emulator-5554 shell 'am force-stop {PKG}'"
    assert left["restore http_proxy (none)"]["by_hand"] == (
        "adb -s emulator-5554 shell 'settings put global http_proxy :0'")
    assert left["remove adb reverse tcp:8080"]["by_hand"] == (
        "adb -s emulator-5554 reverse --remove tcp:8080")
    assert left["stop frida-server 9001"]["by_hand"] == "adb -s emulator-5554 shell 'kill 9001'"
    assert any(step.startswith("undo CA: umount") for step in left)
    assert all(entry["why"] == f"device lost ({GONE})" for entry in left.values())
    assert fake.settings["http_proxy"] == "127.0.0.1:8080"  # indeed still configured


def test_a_device_that_came_back_is_restored_after_all(proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    t.mark_lost(GONE)  # e.g. the adb server restarted; the device is listed again
    t.close()
    assert fake.settings["http_proxy"] == ":0" and fake.reverses == set()
    assert "kill 9001" in fake.log
    assert t.leftovers() == []


def test_a_device_lost_during_close_stops_it_and_says_what_is_left(
        proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    real_shell = fake.shell

    def shell(command: str, *, timeout: float = 60.0) -> ShellResult:
        if command.startswith("settings put global http_proxy :0"):
            fake.unplug(GONE)  # unplugged just as the proxy is reset
        result: ShellResult = real_shell(command, timeout=timeout)
        return result

    fake.shell = shell
    with pytest.raises(DeviceLost) as lost:
        t.close()
    message = str(lost.value)
    assert "lost while consentry restored it" in message
    assert "adb -s emulator-5554 shell 'settings put global http_proxy :0'" in message
    assert "adb -s emulator-5554 reverse --remove tcp:8080" in message
    steps = [entry["step"] for entry in lost.value.not_restored]
    assert steps == ["restore http_proxy (none)", "remove adb reverse tcp:8080"]
    assert not any(c.startswith("reverse --remove") for c in fake.log)  # not tried
    assert "kill 9001" in fake.log  # what came before the loss was undone


def test_a_hung_undo_step_is_cut_off_and_reported(proxy: ProxyEndpoint,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake, t = prepared(proxy)
    monkeypatch.setattr(android, "UNDO_TIMEOUT", 0.2)
    release = threading.Event()
    real_reverse_remove = fake.reverse_remove

    def hang(remote: str) -> None:
        release.wait(10)  # adbutils would wait 600 s on a dead socket
        real_reverse_remove(remote)

    fake.reverse_remove = hang
    try:
        with pytest.raises(DeviceError, match="remove adb reverse tcp:8080: no answer within "
                                              "0.2s") as info:
            t.close()
    finally:
        release.set()
    assert "by hand: adb -s emulator-5554 reverse --remove tcp:8080" in str(info.value)
    assert fake.settings["http_proxy"] == ":0"  # the rest was still restored
    assert [entry["step"] for entry in t.leftovers()] == ["remove adb reverse tcp:8080"]


def test_a_hung_step_on_a_device_that_is_gone_skips_the_rest(
        proxy: ProxyEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    fake, t = prepared(proxy)
    monkeypatch.setattr(android, "UNDO_TIMEOUT", 0.2)
    release = threading.Event()

    def hang(command: str, *, timeout: float = 60.0) -> ShellResult:
        fake.gone = "adb did not answer about it within 5s"
        release.wait(10)
        return ShellResult(command, 0, "")

    fake.shell = hang
    try:
        with pytest.raises(DeviceLost, match="did not answer"):
            t.close()
    finally:
        release.set()
    assert len(t.leftovers()) > 3  # the hung step and every one after it
