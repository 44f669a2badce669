"""Device tests run against a real Android device or emulator, or are skipped with why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from harness.device.parsers import parse_adb_devices


@pytest.fixture(scope="session")
def device_serial() -> str:
    """ANDROID_SERIAL, else the one device `adb devices` lists; skips when there is none."""
    serial = os.environ.get("ANDROID_SERIAL")
    if serial:
        return serial
    adb = shutil.which("adb")
    if adb is None:
        pytest.skip("no Android device: adb is not installed and ANDROID_SERIAL is not set")
    try:
        out = subprocess.run([adb, "devices"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Android device: `adb devices` failed ({exc})")
    serials = parse_adb_devices(out)
    if not serials:
        pytest.skip("no Android device: `adb devices` lists none in state `device`")
    if len(serials) > 1:
        pytest.skip(f"several devices attached ({', '.join(serials)}): set ANDROID_SERIAL")
    return serials[0]
