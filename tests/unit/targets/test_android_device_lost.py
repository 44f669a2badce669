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
    fake.before("frida-server -D$", lambda: fake.on("^pidof frida-server$", "9001\n"))
    fake.on("^chmod 755 ").on(r"^if pidof frida-server \| grep -qw 9001; then kill 9001; fi$")
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
    assert fake.log == [] and fake.confirms == 1  # one check whether it came back
    left = {entry["step"]: entry for entry in t.leftovers()}
    assert left[f"stop {PKG}"]["by_hand"] == f"adb -s emulator-5554 shell 'am force-stop {PKG}'"
    assert left["restore http_proxy (none)"]["by_hand"] == (
        "adb -s emulator-5554 shell 'settings put global http_proxy :0'")
    assert left["remove adb reverse tcp:8080"]["by_hand"] == (
        "adb -s emulator-5554 reverse --remove tcp:8080")
    # root through adbd: after a reboot adbd is the shell user again, so `adb root` first
    root_first = "adb -s emulator-5554 root && adb -s emulator-5554 wait-for-device shell "
    assert left["stop frida-server 9001"]["by_hand"] == (
        root_first + "'if pidof frida-server | grep -qw 9001; then kill 9001; fi'")
    assert left["undo CA: umount /system/etc/security/cacerts"]["by_hand"] == (
        root_first + "'umount /system/etc/security/cacerts'")
    assert all(entry["why"] == f"device lost ({GONE})" for entry in left.values())
    assert fake.settings["http_proxy"] == "127.0.0.1:8080"  # indeed still configured


def test_a_device_that_came_back_is_restored_after_all(proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    t.mark_lost(GONE)  # e.g. the adb server restarted; the device is listed again
    t.close()
    assert fake.settings["http_proxy"] == ":0" and fake.reverses == set()
    # only that pid, and only while it is still frida-server (not after a reboot)
    assert "if pidof frida-server | grep -qw 9001; then kill 9001; fi" in fake.log
    assert t.leftovers() == []


def test_a_device_lost_during_close_stops_it_and_says_what_is_left(
        proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    # unplugged just as the proxy is reset
    fake.before("^settings put global http_proxy :0", lambda: fake.unplug(GONE))
    with pytest.raises(DeviceLost) as lost:
        t.close()
    message = str(lost.value)
    assert "lost while consentry restored it" in message
    assert "adb -s emulator-5554 shell 'settings put global http_proxy :0'" in message
    assert "adb -s emulator-5554 reverse --remove tcp:8080" in message
    steps = [entry["step"] for entry in lost.value.not_restored]
    assert steps == ["restore http_proxy (none)", "remove adb reverse tcp:8080"]
    assert not any(c.startswith("reverse --remove") for c in fake.log)  # not tried
    # only that pid, and only while it is still frida-server (not after a reboot)
    # what came before the loss was undone
    assert "if pidof frida-server | grep -qw 9001; then kill 9001; fi" in fake.log


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


def test_a_hung_step_on_a_hung_device_lists_exactly_the_rest(
        proxy: ProxyEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen device stays listed by adb (lost_reason says nothing): the step times out,
    the round trip fails, and nothing more is sent (not one UNDO_TIMEOUT per step)."""
    fake, t = prepared(proxy)
    steps = [label for label, _, _ in reversed(t._undo)]  # the order close runs them
    monkeypatch.setattr(android, "UNDO_TIMEOUT", 0.2)
    release = threading.Event()

    def hang() -> None:
        fake.hang()
        release.wait(10)

    fake.before(r"^if pidof frida-server \| grep", hang)  # the first undo step
    fake.log.clear()
    try:
        with pytest.raises(DeviceLost, match="hung"):
            t.close()
    finally:
        release.set()
    assert fake.probes == 0 and fake.confirms == 1
    assert [entry["step"] for entry in t.leftovers()] == steps
    assert steps[0] == "stop frida-server 9001" and "restore http_proxy (none)" in steps
    assert fake.log == []  # the hung step never returned; no other step was sent
    assert t.leftovers()[0]["why"].startswith("device lost (listed by adb but it did not")


def test_a_hung_device_is_not_taken_for_back(proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    steps = len(t._undo)
    t.mark_lost("hung")
    fake.hang()  # adb lists it, it does not answer: the round trip decides
    assert t.device_back() is False
    fake.log.clear()
    t.close()
    assert fake.log == [] and len(t.leftovers()) == steps > 3
    assert fake.settings["http_proxy"] == "127.0.0.1:8080"


def test_a_device_lost_while_trusting_the_ca_stops_the_run_even_when_optional(
        proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.before("^mount -t tmpfs", lambda: fake.unplug(GONE))
    t = target(fake, require_ca=False)
    with pytest.raises(DeviceLost):  # not "CA not trusted, carry on"
        t.prepare(AppSpec(package=PKG), proxy)
    t.mark_lost(GONE)
    t.close()
    # registered before the mount: the user learns how to remove it
    steps = [entry["step"] for entry in t.leftovers()]
    assert "undo CA: umount /system/etc/security/cacerts" in steps
    assert "undo CA: umount /apex/com.android.conscrypt/cacerts" in steps


def test_a_device_lost_while_frida_server_starts_says_how_to_stop_it(
        proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on("^pidof frida-server$", exit_code=1)
    # it may have started: its pid is unknown
    fake.before("frida-server -D$", lambda: fake.unplug(GONE))
    fake.on("^chmod 755 ")
    t = target(fake)
    with pytest.raises(DeviceLost):
        t.prepare(AppSpec(package=PKG), proxy)
    t.mark_lost(GONE)
    t.close()
    left = {entry["step"]: entry["by_hand"] for entry in t.leftovers()}
    assert left["stop the frida-server consentry started"] == (
        "adb -s emulator-5554 root && adb -s emulator-5554 wait-for-device shell "
        "'for pid in $(pidof frida-server); do kill $pid; done'")


def test_frida_server_that_never_started_leaves_no_stop_step(proxy: ProxyEndpoint) -> None:
    fake = rooted_emulator()
    fake.on("^pidof frida-server$", exit_code=1)
    fake.on("^test -e /data/local/tmp/frida-server$", exit_code=1)  # not pushed
    t = target(fake)
    with pytest.raises(DeviceError, match="frida-server not found"):
        t.prepare(AppSpec(package=PKG), proxy)
    t.close()
    assert not any("kill" in c for c in fake.log) and t.leftovers() == []


def test_an_adb_server_restart_that_dropped_the_reverse_is_seen(proxy: ProxyEndpoint) -> None:
    fake, t = prepared(proxy)
    assert t.device_lost(confirm=True) is None  # answers, reverse in place
    fake.reverses.clear()  # what `adb kill-server; adb start-server` does to it
    assert t.device_lost() is None  # the cheap check cannot tell
    reason = t.device_lost(confirm=True)
    assert reason is not None and "adb reverse tcp:8080 is gone" in reason
    t.mark_lost(reason)
    t.close()  # the device answers: everything is undone, the missing reverse is no error
    assert fake.settings["http_proxy"] == ":0" and t.leftovers() == []
