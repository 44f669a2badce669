"""A whole session on a real device: install, proxy, spawn gated, agent, scenario, bundle.

Needs a rooted device or emulator with frida-server pushed to /data/local/tmp/frida-server,
and an app to test: CONSENTRY_DEVICE_APK (path) and CONSENTRY_DEVICE_PACKAGE (its package).
    ANDROID_SERIAL=emulator-5554 CONSENTRY_DEVICE_APK=app.apk \
    CONSENTRY_DEVICE_PACKAGE=com.example.app python -m pytest tests/device -m device
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.scenario.loader import parse_scenario
from harness.session import Session, SessionOptions
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec

pytestmark = pytest.mark.device

IDLE = "name: idle-short\nsteps:\n  - launch\n  - wait: 10\n"


@pytest.fixture
def app_under_test() -> AppSpec:
    apk = os.environ.get("CONSENTRY_DEVICE_APK")
    package = os.environ.get("CONSENTRY_DEVICE_PACKAGE")
    if not apk or not package:
        pytest.skip("set CONSENTRY_DEVICE_APK and CONSENTRY_DEVICE_PACKAGE to run a session")
    return AppSpec(package=package, apk=Path(apk))


def test_session_on_device(device_serial: str, app_under_test: AppSpec, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = Session(AndroidTarget(device_serial), app_under_test, parse_scenario(IDLE),
                     SessionOptions(out=out)).run()
    manifest = json.loads((out / "manifest.json").read_text())
    assert result.status == "complete" and manifest["status"] == "complete"
    assert manifest["coverage"]["installed"] > 0
    assert manifest["target"]["serial"] == device_serial
    types = {json.loads(line)["type"] for line in (out / "events.jsonl").read_text().splitlines()}
    assert {"agent.ready", "agent.coverage", "app.resume", "session.end"} <= types
    assert (out / "findings.json").exists() and (out / "report.html").exists()
