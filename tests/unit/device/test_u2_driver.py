"""Glue of Uiautomator2Driver: argument passing, PNG conversion, error mapping.

A stand-in replaces only the connected ``uiautomator2.Device``; the exceptions and the image
are the real uiautomator2 / Pillow types.
"""

from __future__ import annotations

from typing import Any

import pytest
import uiautomator2
from PIL import Image

from harness.errors import DeviceLost, UiError
from harness.ui.base import UiDriver
from harness.ui.u2 import Uiautomator2Driver


class ScriptedDevice:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.current: Any = {"package": "com.example.shop", "activity": ".Main"}

    def dump_hierarchy(self, compressed: bool = False) -> str:
        self.calls.append(("dump_hierarchy", compressed))
        return '<?xml version="1.0" ?><hierarchy rotation="0"><node text="OK"/></hierarchy>'

    def click(self, x: int, y: int) -> None:
        self.calls.append(("click", (x, y)))

    def press(self, key: str) -> None:
        self.calls.append(("press", key))

    def screenshot(self, format: str = "pillow") -> Image.Image:
        self.calls.append(("screenshot", format))
        return Image.new("RGB", (4, 3), (255, 0, 0))

    def app_start(self, package: str) -> None:
        raise uiautomator2.exceptions.AppNotFoundError(f"{package} not found")

    def app_stop(self, package: str) -> None:
        self.calls.append(("app_stop", package))

    clip: str | None = None

    def set_clipboard(self, text: str, label: str | None = None) -> None:
        self.calls.append(("set_clipboard", text))
        if text == "fail":
            raise uiautomator2.exceptions.RPCUnknownError("setClipboard failed")
        self.clip = text

    @property
    def clipboard(self) -> str | None:
        return self.clip

    def app_current(self) -> Any:
        if isinstance(self.current, Exception):
            raise self.current
        return self.current


def driver_with(device: ScriptedDevice) -> Uiautomator2Driver:
    driver = Uiautomator2Driver("emulator-5554")
    driver._d = device
    return driver


def test_implements_the_protocol() -> None:
    assert isinstance(Uiautomator2Driver("x"), UiDriver)


def test_calls_are_passed_through() -> None:
    device = ScriptedDevice()
    driver = driver_with(device)
    assert "<hierarchy" in driver.dump_hierarchy()
    driver.click(10, 20)
    driver.press("back")
    driver.app_stop("com.example.shop")
    assert device.calls == [("dump_hierarchy", False), ("click", (10, 20)), ("press", "back"),
                            ("app_stop", "com.example.shop")]


def test_screenshot_is_png() -> None:
    png = driver_with(ScriptedDevice()).screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_u2_errors_become_ui_errors() -> None:
    with pytest.raises(UiError, match="could not start com.x on emulator-5554: AppNotFound"):
        driver_with(ScriptedDevice()).app_start("com.x")


def test_connect_failure_is_a_ui_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(serial: str) -> None:
        raise uiautomator2.exceptions.ConnectError("uiautomator2 server not responding")

    monkeypatch.setattr(uiautomator2, "connect", refuse)
    with pytest.raises(UiError, match="could not connect on R58M123.*uiautomator2 init"):
        Uiautomator2Driver("R58M123").click(1, 1)


def test_unknown_key_is_rejected_before_touching_the_device() -> None:
    device = ScriptedDevice()
    with pytest.raises(UiError, match="unknown key 'power'"):
        driver_with(device).press("power")
    assert device.calls == []


def test_foreground_app_unknown_is_none() -> None:
    device = ScriptedDevice()
    driver = driver_with(device)
    assert driver.foreground_app() == "com.example.shop"
    device.current = uiautomator2.exceptions.DeviceError("Couldn't get focused app")
    assert driver.foreground_app() is None


def test_clipboard_round_trip_and_error_mapping() -> None:
    device = ScriptedDevice()
    driver = driver_with(device)
    assert driver.get_clipboard() is None
    driver.set_clipboard("consentry-clip-1a2b3c4d")
    assert driver.get_clipboard() == "consentry-clip-1a2b3c4d"
    with pytest.raises(UiError, match="could not set the clipboard on emulator-5554"):
        driver.set_clipboard("fail")


class UnpluggedDevice(ScriptedDevice):
    """What uiautomator2 3.x raises once the phone is unplugged mid-scenario: its HTTP calls
    to the on-device server ride adb forward, so they end in a ConnectError / reset."""

    def dump_hierarchy(self, compressed: bool = False) -> str:
        raise uiautomator2.exceptions.ConnectError("Connection aborted: ConnectionResetError")

    def click(self, x: int, y: int) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")


def test_a_device_that_is_gone_is_device_lost_not_a_ui_error() -> None:
    probes: list[str] = []

    def gone() -> str:
        probes.append("get-state")
        return "adb: device 'emulator-5554' not found"

    driver = Uiautomator2Driver("emulator-5554", lost_reason=gone)
    driver._d = UnpluggedDevice()
    with pytest.raises(DeviceLost, match="could not dump the window hierarchy") as lost:
        driver.dump_hierarchy()
    assert lost.value.cause == "adb: device 'emulator-5554' not found"
    assert not isinstance(lost.value, UiError)  # the scenario must not treat it as a UI miss
    with pytest.raises(DeviceLost, match=r"tap \(1, 2\).*ConnectionResetError"):
        driver.click(1, 2)
    assert probes == ["get-state", "get-state"]


def test_a_ui_failure_on_a_device_that_answers_stays_a_ui_error() -> None:
    driver = Uiautomator2Driver("emulator-5554", lost_reason=lambda: None)
    driver._d = UnpluggedDevice()
    with pytest.raises(UiError, match="could not dump the window hierarchy"):
        driver.dump_hierarchy()
