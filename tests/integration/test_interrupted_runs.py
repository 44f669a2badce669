"""Faults mid-run: the app killed, the harness terminated or killed. The bundle must stay
readable and say it is incomplete; analysis still works on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.analysis.engine import analyze
from harness.commands.demo import demo_session
from harness.errors import InstrumentationError

pytestmark = pytest.mark.integration

LONG = "name: long\nsteps:\n  - launch\n  - wait: 60\n"


def _wait_for_event(run_dir: Path, type_: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = run_dir / "events.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event["type"] == type_:
                    return event
        time.sleep(0.2)
    raise AssertionError(f"no {type_} event in {run_dir} after {timeout}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split(") ", 1)[1][0] != "Z"


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_app_killed_mid_run(tmp_path, jdk, agent_bundle):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG)
    run_dir = tmp_path / "run"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            demo_session(str(scenario), run_dir, settle=0)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pid = _wait_for_event(run_dir, "app.resume")["data"]["pid"]
    _wait_for_event(run_dir, "flow.http")
    os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], InstrumentationError)
    assert "ended unexpectedly" in str(errors[0])
    manifest = _manifest(run_dir)
    assert manifest["status"] == "incomplete"
    assert "ended unexpectedly" in manifest["incomplete_reason"]
    assert "events.jsonl" in manifest["files"]
    result = analyze(run_dir)
    assert result.findings, "the evidence gathered before the crash is still judged"


def _start_harness(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "demo", "--scenario", str(scenario), "--out",
         str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return proc, run_dir


def test_harness_terminated_mid_run(tmp_path, jdk, agent_bundle):
    proc, run_dir = _start_harness(tmp_path)
    try:
        pid = _wait_for_event(run_dir, "app.resume")["data"]["pid"]
        _wait_for_event(run_dir, "flow.http")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    manifest = _manifest(run_dir)
    assert manifest["status"] == "incomplete"
    assert manifest["incomplete_reason"].startswith("SystemExit")
    assert not _alive(pid), "the app must not outlive the harness"
    assert analyze(run_dir).findings


def test_harness_killed_outright_leaves_a_readable_incomplete_bundle(tmp_path, jdk, agent_bundle):
    proc, run_dir = _start_harness(tmp_path)
    try:
        _wait_for_event(run_dir, "flow.http")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the harness and everything it started
        proc.wait(30)
    manifest = _manifest(run_dir)
    assert manifest["status"] == "incomplete" and manifest["incomplete_reason"] == "running"
    result = analyze(run_dir)
    assert any(f.rule == "collect-before-consent" for f in result.findings)
    out = subprocess.run([sys.executable, "-m", "harness.cli", "analyze", str(run_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "incomplete" in out.stdout
