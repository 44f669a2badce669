"""AndroidTarget and Uiautomator2Driver on a real device or emulator.

Run: ANDROID_SERIAL=emulator-5554 python -m pytest tests/device -m device
Root-only parts (CA, frida-server) are exercised when the device allows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.device import commands, parsers
from harness.errors import DeviceError
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec, SpawnedApp

pytestmark = pytest.mark.device

SETTINGS = "com.android.settings"  # on every device, safe to run without clearing


@pytest.fixture
def target(device_serial: str) -> Iterator[AndroidTarget]:
    t = AndroidTarget(device_serial, require_ca=False)
    try:
        yield t
    finally:
        t.close()


def test_describe(target: AndroidTarget, device_serial: str) -> None:
    facts = target.describe()
    assert facts["serial"] == device_serial
    assert isinstance(facts["sdk"], int) and facts["sdk"] >= 21
    assert facts["abi"] in ("arm64-v8a", "armeabi-v7a", "x86_64", "x86")
    assert facts["fingerprint"] and facts["model"]


def test_proxy_is_set_then_restored(target: AndroidTarget, tmp_path: Path) -> None:
    before = target.device.shell(commands.get_global_http_proxy()).output.strip()
    proxy = target.app_proxy(18089, tmp_path / "missing-ca.pem")
    try:
        target.prepare(AppSpec(package=SETTINGS), proxy, clear=False)
    except DeviceError as exc:  # no frida-server pushed: the proxy part ran before it
        if "frida-server" not in str(exc) and "cannot read the proxy CA" not in str(exc):
            raise
    target.close()
    after = target.device.shell(commands.get_global_http_proxy()).output.strip()
    assert after == before or (before == "null" and after == ":0")


def test_package_facts(target: AndroidTarget) -> None:
    paths = parsers.parse_pm_path(target.device.shell(commands.pm_path(SETTINGS)).output)
    assert paths and paths[0].endswith(".apk")
    version = parsers.parse_package_version(
        target.device.shell(commands.dumpsys_package(SETTINGS)).output)
    assert version.version_code is not None


def test_ground_truth_has_android_id(target: AndroidTarget) -> None:
    truth = target.ground_truth()
    assert truth.get("android_id") and len(truth["android_id"][0]) >= 8


def test_ui_dump_screenshot_and_app_control(target: AndroidTarget) -> None:
    ui = target.ui()
    ui.app_start(SETTINGS)
    assert "<hierarchy" in ui.dump_hierarchy()
    assert ui.screenshot().startswith(b"\x89PNG")
    assert ui.foreground_app() in (SETTINGS, None)
    pids = parsers.parse_pidof(target.device.shell(commands.pidof(SETTINGS)).output)
    assert pids and target.is_running(SpawnedApp(pid=pids[0], process=SETTINGS))
    target.stop_app(AppSpec(package=SETTINGS))
    assert not target.is_running(SpawnedApp(pid=pids[0], process=SETTINGS))
