"""The app's other processes on a real device: zygote starts them, spawn gating holds them.

Needs a rooted device or emulator with frida-server, and an app whose launch starts a
service in another process (``android:process=":remote"``):
    ANDROID_SERIAL=emulator-5554 CONSENTRY_DEVICE_MULTIPROCESS_APK=app.apk \
    CONSENTRY_DEVICE_MULTIPROCESS_PACKAGE=com.example.app \
    CONSENTRY_DEVICE_MULTIPROCESS_NAME=com.example.app:remote \
    python -m pytest tests/device/test_app_processes.py -m device
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InstrumentationError
from harness.instrument.frida_adapter import FridaSpawnGate
from harness.scenario.loader import parse_scenario
from harness.session import Session, SessionOptions
from harness.targets.android import AndroidTarget
from harness.targets.base import AppSpec

pytestmark = pytest.mark.device

IDLE = "name: idle-remote\nsteps:\n  - launch\n  - wait: 15\n"


@pytest.fixture
def multiprocess_app() -> tuple[AppSpec, str]:
    apk = os.environ.get("CONSENTRY_DEVICE_MULTIPROCESS_APK")
    package = os.environ.get("CONSENTRY_DEVICE_MULTIPROCESS_PACKAGE")
    name = os.environ.get("CONSENTRY_DEVICE_MULTIPROCESS_NAME")
    if not apk or not package or not name:
        pytest.skip("set CONSENTRY_DEVICE_MULTIPROCESS_APK, _PACKAGE and _NAME (the process "
                    "name of a service the app starts, e.g. com.example.app:remote)")
    return AppSpec(package=package, apk=Path(apk)), name


def test_remote_process_is_held_instrumented_and_named(
        device_serial: str, multiprocess_app: tuple[AppSpec, str], tmp_path: Path) -> None:
    app, remote = multiprocess_app
    out = tmp_path / "run"
    target = AndroidTarget(device_serial)
    result = Session(target, app, parse_scenario(IDLE), SessionOptions(out=out)).run()
    assert result.status == "complete"
    events: list[dict[str, Any]] = [
        json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]

    children = [e["data"] for e in events if e["type"] == "app.child"
                and e["data"]["process"] == remote]
    assert children, f"no {remote} process was gated"
    child = children[0]
    assert child["origin"] == "spawn" and child["parent_pid"] is None
    coverage = [e["data"] for e in events if e["type"] == "agent.coverage"
                and e["data"].get("pid") == child["pid"]]
    assert coverage and coverage[0]["process"] == remote and coverage[0]["installed"] > 0
    # Whatever the remote process read is attributed to it, not to the main process.
    for event in events:
        if event["type"] == "hook.call" and event["data"]["pid"] == child["pid"]:
            assert event["data"]["process"] == remote
    gating = [e["data"]["enabled"] for e in events if e["type"] == "agent.spawn_gating"]
    assert gating[0] is True and gating[-1] is False
    assert not [e for e in events if e["type"] == "agent.error"
                and "app process" in e["data"].get("message", "")]
    # Nothing on the device is left held after the session (when the target's close stopped
    # frida-server, its exit released everything: nothing to ask).
    try:
        held = FridaSpawnGate(target.frida_device()).pending()
    except InstrumentationError:
        held = []
    assert held == []
