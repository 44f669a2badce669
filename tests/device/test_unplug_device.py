"""A device lost mid-run, for real. Unplugging cannot be automated in general, so:

* ``CONSENTRY_DEVICE_LOSS=disconnect`` with a device reached over TCP (``adb connect
  HOST:PORT``, e.g. an emulator or a phone with wireless debugging): the test runs
  ``adb disconnect SERIAL`` mid-scenario, then ``adb connect SERIAL`` and checks that the
  by-hand commands consentry printed put the device back (no proxy left).
* ``CONSENTRY_DEVICE_LOSS=manual`` (USB): when the test logs "UNPLUG NOW", pull the cable
  within 60 s; plug it back when asked, the test then runs the by-hand commands.

Both need what tests/device/test_session_device.py needs (root, frida-server, an app:
CONSENTRY_DEVICE_APK and CONSENTRY_DEVICE_PACKAGE). Run with
``python -m pytest tests/device/test_unplug_device.py -m device -s``.
Manual check it replaces when neither is possible: start ``consentry run PKG --scenario
idle``, unplug mid-scenario; expect exit status 4 within a few seconds, a message naming the
step and listing ``adb -s SERIAL shell ...`` commands, a bundle with status incomplete and a
``device.lost`` event, and report.html saying the run is incomplete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from harness.errors import DeviceLost
from harness.scenario.loader import parse_scenario
from harness.session import Session, SessionOptions
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec
from tests.integration.test_interrupted_runs import _wait_for_event

pytestmark = pytest.mark.device

LONG = "name: long\nsteps:\n  - launch\n  - wait: 90\n"


@pytest.fixture
def loss_mode(device_serial: str) -> str:
    mode = os.environ.get("CONSENTRY_DEVICE_LOSS")
    if mode not in ("disconnect", "manual"):
        pytest.skip("device-loss test needs CONSENTRY_DEVICE_LOSS=disconnect (a device "
                    "reached with `adb connect`) or =manual (you unplug it); see module doc")
    if mode == "disconnect" and ":" not in device_serial:
        pytest.skip(f"{device_serial} is not a TCP serial (HOST:PORT): `adb disconnect` "
                    "cannot drop it; use CONSENTRY_DEVICE_LOSS=manual")
    return mode


def _adb(*args: str) -> str:
    adb = shutil.which("adb")
    assert adb is not None
    return subprocess.run([adb, *args], capture_output=True, text=True, timeout=60,
                          check=False).stdout


def test_device_lost_mid_run(device_serial: str, loss_mode: str, tmp_path: Path) -> None:
    apk, package = os.environ.get("CONSENTRY_DEVICE_APK"), os.environ.get(
        "CONSENTRY_DEVICE_PACKAGE")
    if not apk or not package:
        pytest.skip("set CONSENTRY_DEVICE_APK and CONSENTRY_DEVICE_PACKAGE")
    out = tmp_path / "run"
    session = Session(AndroidTarget(device_serial), AppSpec(package=package, apk=Path(apk)),
                      parse_scenario(LONG), SessionOptions(out=out))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            session.run()
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        _wait_for_event(out, "app.resume", timeout=120)
        if loss_mode == "disconnect":
            _adb("disconnect", device_serial)
        else:
            print("\nUNPLUG NOW (60 s)", flush=True)
        thread.join(90)
    finally:  # whatever failed above, give the device back to the next test
        if loss_mode == "disconnect":
            _adb("connect", device_serial)
        else:
            print("\nPLUG IT BACK IN", flush=True)
    assert not thread.is_alive(), "the session must notice the loss and end on its own"
    assert len(errors) == 1 and isinstance(errors[0], DeviceLost), errors
    lost = errors[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["device_lost"]["cause"]
    assert manifest["not_restored"] == lost.not_restored
    steps = {entry["step"] for entry in lost.not_restored}
    assert f"stop {package}" in steps and any(s.startswith("restore http_proxy") for s in steps)
    assert any(s.startswith("remove adb reverse tcp:") for s in steps), steps
    assert (out / "report.html").exists()

    _adb("-s", device_serial, "wait-for-device")
    for entry in lost.not_restored:  # the commands the user is told to run, as told
        if not entry["by_hand"].startswith("adb "):
            continue  # an action by hand (e.g. the clipboard), not a command
        done = subprocess.run(entry["by_hand"], shell=True, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, (entry, done.stdout, done.stderr)
    proxy = _adb("-s", device_serial, "shell", "settings get global http_proxy").strip()
    assert proxy in ("", "null", ":0"), f"http_proxy still {proxy!r} after the by-hand steps"
    reverses = _adb("-s", device_serial, "reverse", "--list")
    port = manifest["capture"]["app_proxy"].rsplit(":", 1)[1]
    assert f"tcp:{port}" not in reverses.split(), reverses
    assert _adb("-s", device_serial, "shell", f"pidof {package}").strip() == "", "still running"
    if any(s.startswith("undo CA: umount") for s in steps):
        mounts = _adb("-s", device_serial, "shell", "cat /proc/self/mounts")
        assert "tmpfs /system/etc/security/cacerts" not in mounts, "the CA store is still ours"
