"""The farm's verdict on a finished session, from hand-made bundles analysed for real:
complete, degraded (evidence partly lost) and incomplete; and where attempts land."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.engine import analyze
from harness.errors import ConfigError
from harness.farm.runner import run_dir_for, run_job, verdict
from harness.farm.spec import JobSpec
from harness.session import SessionResult
from tests.unit.analysis.test_diff import BASE, bundle


def _verdict(tmp_path: Path, **manifest: object) -> tuple[str, tuple[str, ...], list]:
    run = bundle(tmp_path, "run", BASE, **manifest)
    return verdict(SessionResult(run, "complete", None, analysis=analyze(run)))


def test_a_sound_run_is_complete_with_its_findings(tmp_path: Path) -> None:
    status, problems, rows = _verdict(tmp_path)
    assert (status, problems) == ("complete", ())
    assert {r.rule for r in rows} == {"collect-before-consent", "send-before-consent"}
    assert all(r.sdk == "Umeng" and "imei" in r.summary for r in rows)


def test_lost_evidence_is_degraded(tmp_path: Path) -> None:
    status, problems, rows = _verdict(tmp_path, degraded=["plaintext capture unavailable"])
    assert status == "degraded" and problems == ("degraded: plaintext capture unavailable",)
    assert rows  # the findings still count; the run just cannot vouch for the rest


def test_a_cut_short_run_is_incomplete(tmp_path: Path) -> None:
    status, problems, _ = _verdict(tmp_path, status="incomplete",
                                   incomplete_reason="device lost")
    assert status == "incomplete" and "incomplete (device lost)" in problems


def test_attempt_folders_are_per_night_and_job(tmp_path: Path) -> None:
    spec = JobSpec(package="com.example.app", night="n1", scenario="scenarios/x.yaml")
    assert run_dir_for(tmp_path, spec, "abcd-2") == (
        tmp_path / "n1" / "com.example.app-scenarios_x-android-abcd-2")


def test_a_job_that_cannot_start_fails_without_a_bundle(tmp_path: Path) -> None:
    spec = JobSpec(package="com.example.app", night="n1", target="local")
    outcome = run_job(spec, "local-1", tmp_path / "out")
    assert outcome.status == "failed" and outcome.bundle is None
    assert not outcome.device_fault
    assert "needs options.command" in (outcome.error or "")
    with pytest.raises(ConfigError):  # and the spec itself is checked up front
        JobSpec(package="com.example.app", night="n1", target="local", apk="a.apk")
