from __future__ import annotations

from pathlib import Path

from harness.analysis.engine import analyze
from harness.report.summary import summary


def test_summary_lists_status_consent_and_findings_by_rule(runs: Path) -> None:
    text = summary(analyze(runs / "reject"))
    lines = text.splitlines()
    assert lines[1] == "app: org.consentry.specimen   scenario: reject   status: complete"
    assert lines[2] == "consent: rejected (dialog shown 1.0s, decided 2.0s)"
    assert lines[3] == "findings: 4"
    assert "  collect-after-refusal (2):" in lines
    assert "    unknown: com.acme.tracker -> log.acme-tracker.test: imei x1, first at 3.0s" in lines


def test_summary_flags_an_incomplete_run(runs: Path) -> None:
    text = summary(analyze(runs / "truncated"))
    assert "! incomplete run (harness killed)" in text
    assert "consent: never" in text
