"""The device goes away mid-run, on the nearest real analogue this machine has: the real
specimen JVM under the real Frida agent, real mitmdump and recorder, on a local target whose
"device" vanishes (its adb check starts answering "not found", as ``AdbutilsDevice`` does
once a phone is unplugged). The session must notice within its probe interval, record
``device.lost`` with the step, keep every event and flow, close the bundle incomplete, still
analyse it, and tell the user what is left to undo on the device."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import pytest

from harness.errors import DeviceLost
from harness.scenario.loader import load_scenario
from harness.session import LosableTarget, Session, SessionOptions, SessionResult
from harness.specimen.tracker import TrackerServer
from harness.targets.local import LocalTarget, specimen_app
from tests.integration.test_interrupted_runs import _wait_for_event
from tests.unit.core.losable import GONE, LosableStandIn

pytestmark = pytest.mark.integration

BY_HAND = "adb -s emulator-5554 shell 'settings put global http_proxy :0'"


class VanishingDeviceTarget(LosableStandIn, LocalTarget):
    """LocalTarget plus the device-loss surface of AndroidTarget: ``vanish()`` is the unplug;
    while lost, the pretend proxy setting it "made" is what close cannot undo."""

    def __init__(self, log_dir: Path) -> None:
        LocalTarget.__init__(self, log_dir=log_dir)
        LosableStandIn.__init__(self)

    def leftovers(self) -> list[dict[str, str]]:
        if self.marked is None:
            return []
        return [{"step": "restore http_proxy (none)", "by_hand": BY_HAND,
                 "why": f"device lost ({self.marked})"}]


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_device_lost_mid_scenario_keeps_the_evidence_and_says_what_to_undo(
        tmp_path, jdk, agent_bundle):
    scenario = tmp_path / "long.yaml"
    scenario.write_text("name: long\nsteps:\n  - launch\n  - wait: 60\n")
    run_dir = tmp_path / "run"
    target = VanishingDeviceTarget(run_dir)
    assert isinstance(target, LosableTarget)
    outcome: list[BaseException] = []

    with TrackerServer() as tracker, tempfile.TemporaryDirectory() as tmp:
        host, port = tracker.address
        options = SessionOptions(out=run_dir, settle=0, ssl_insecure=True,
                                 resolve=[f"{n}:443={host}:{port}" for n in tracker.hosts])
        session = Session(target, specimen_app(Path(tmp) / "data"), load_scenario(str(scenario)),
                          options)

        def run() -> None:
            try:
                session.run()
            except BaseException as exc:  # noqa: BLE001 - checked below
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        _wait_for_event(run_dir, "flow.http", timeout=90)
        target.vanish()
        thread.join(120)
        assert not thread.is_alive()

    assert len(outcome) == 1 and isinstance(outcome[0], DeviceLost), outcome
    lost = outcome[0]
    message = str(lost)
    assert "was lost during scenario step 2/2 (wait 60s)" in message
    assert GONE in message and f"kept in {run_dir}" in message
    assert f"  - restore http_proxy (none): {BY_HAND}" in message
    assert "Reconnect the device" in message
    assert lost.not_restored[0]["by_hand"] == BY_HAND
    assert target.marked == GONE

    events = _events(run_dir)
    types = [e["type"] for e in events]
    (gone,) = [e for e in events if e["type"] == "device.lost"]
    assert gone["data"]["cause"] == GONE and gone["data"]["step"]["index"] == 2
    assert gone["data"]["during"] == "scenario step 2/2 (wait 60s)"
    before = types[:types.index("device.lost")]
    assert "flow.http" in before and any(t.startswith("hook.") for t in before)
    stop = next(e for e in events if e["type"] == "app.stop")
    assert stop["data"]["reason"] == "device lost" and stop["data"]["done"] is False
    not_restored = next(e for e in events if e["type"] == "device.not_restored")
    assert not_restored["data"]["steps"][0]["step"] == "restore http_proxy (none)"
    assert types[-1] == "session.end"
    # The scenario was stopped, not waited out: the 60 s wait never finished.
    resumed = next(e["t"] for e in events if e["type"] == "app.resume")
    assert events[-1]["t"] - resumed < 60

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["incomplete_reason"] == (
        f"device lost during scenario step 2/2 (wait 60s): {GONE}")
    assert manifest["device_lost"] == {"cause": GONE, "during": "scenario step 2/2 (wait 60s)"}
    assert manifest["not_restored"][0]["by_hand"] == BY_HAND
    assert "events.jsonl" in manifest["files"] and manifest["capture"]["flows"] >= 1

    result = lost.result
    assert isinstance(result, SessionResult) and result.status == "incomplete"
    assert result.analysis is not None and result.analysis.findings
    assert (run_dir / "findings.json").exists()
    report = (run_dir / "report.html").read_text()
    assert "incomplete" in report and "device lost during scenario step 2/2" in report


class UnpluggedAtTheEndTarget(VanishingDeviceTarget):
    """The device goes away just as the session stops the app after the last step."""

    def stop_app(self, app) -> None:  # type: ignore[no-untyped-def]
        if self.gone is None and self.marked is None:
            super().stop_app(app)  # the host process still ends
            self.vanish()
            raise DeviceLost(f"`am force-stop` failed ({GONE})", cause=GONE)


def test_device_lost_while_cleaning_up_still_marks_the_run_incomplete(
        tmp_path, jdk, agent_bundle):
    scenario = tmp_path / "short.yaml"
    scenario.write_text("name: short\nsteps:\n  - launch\n  - wait: 1\n")
    run_dir = tmp_path / "run"
    target = UnpluggedAtTheEndTarget(run_dir)
    with TrackerServer() as tracker, tempfile.TemporaryDirectory() as tmp:
        host, port = tracker.address
        options = SessionOptions(out=run_dir, settle=0, ssl_insecure=True, analyze=False,
                                 resolve=[f"{n}:443={host}:{port}" for n in tracker.hosts])
        session = Session(target, specimen_app(Path(tmp) / "data"), load_scenario(str(scenario)),
                          options)
        with pytest.raises(DeviceLost, match="was lost during stopping the app") as lost:
            session.run()
    assert lost.value.result is not None and lost.value.result.analysis is None  # --no-analyze
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"  # not "complete": cleanup could not finish
    assert manifest["device_lost"]["during"] == "stopping the app"
    assert manifest["not_restored"][0]["by_hand"] == BY_HAND
    types = [e["type"] for e in _events(run_dir)]
    assert types.count("device.lost") == 1 and "scenario.stopped" not in types
