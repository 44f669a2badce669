"""The UI rules on hand-built bundles (the format of tests/data/runs): dialog design from the
detector's findings, exit after refusal, consent re-shown after a refusal, permission re-asked
after a denial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.analysis.engine import analyze
from harness.analysis.model import Finding
from harness.analysis.rules import default_rules
from harness.report.html import render_report

T0 = 1764410400.0
PKG = "org.consentry.specimen"
Events = list[tuple[float, str, dict[str, Any]]]


def _bundle(tmp_path: Path, events: Events) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    manifest = {"schema": 1, "app": {"package": PKG}, "t_start": T0, "t_end": T0 + 60,
                "status": "complete", "incomplete_reason": None, "degraded": [],
                "scenario": {"name": "t"}, "target": {"name": "local"}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    lines = [{"seq": 1, "t": T0, "type": "session.start", "source": "host", "data": {}}]
    for i, (dt, kind, data) in enumerate(events, 2):
        lines.append({"seq": i, "t": T0 + dt, "type": kind, "source": "ui", "data": data})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return run


def _rule(tmp_path: Path, events: Events,
          rule: str) -> list[Finding]:
    return [f for f in analyze(_bundle(tmp_path, events)).findings if f.rule == rule]


def _shown(findings: list[str], layer: int = 1) -> dict[str, Any]:
    return {"step": 3, "layer": layer, "screen": "screens/002-consent-accept.xml",
            "screenshot": "screens/002-consent-accept.png", "by": "detector",
            "detection": {"dialog": "consent",
                          "accept": {"text": "我知道了", "resource_id": f"{PKG}:id/btn_ok",
                                     "bounds": [150, 1620, 930, 1740]},
                          "reject": None, "findings": findings}}


def test_new_rules_are_registered_once() -> None:
    ids = [r.id for r in default_rules()]
    for rule in ("no-reject-option", "pre-ticked-consent", "ambiguous-accept",
                 "accept-highlighted", "exit-after-refusal", "consent-reshown-after-refusal",
                 "permission-reasked-after-denial"):
        assert ids.count(rule) == 1
    assert all(r.refs and r.title_zh for r in default_rules())


def test_detector_findings_become_run_findings_with_the_screen(tmp_path: Path) -> None:
    events: Events = [(1.0, "consent.shown", _shown(["no-reject-option", "pre-ticked-consent",
                                             "ambiguous-accept"])),
              (2.0, "consent.accept", {"step": 3, "layer": 1})]
    result = analyze(_bundle(tmp_path, events))
    by_rule = {f.rule: f for f in result.findings}
    for rule in ("no-reject-option", "pre-ticked-consent", "ambiguous-accept"):
        finding = by_rule[rule]
        assert finding.events == (2,) and finding.first_seen == 1.0 and finding.sdk == "app"
        assert finding.details["screen"] == "screens/002-consent-accept.xml"
        assert finding.details["accept"]["text"] == "我知道了"
    assert "accept-highlighted" not in by_rule
    assert any("Recital 32" in r for r in by_rule["pre-ticked-consent"].refs)
    assert any("CN-DEFAULT-01" in r for r in by_rule["pre-ticked-consent"].refs)
    assert any("CN-BUTTONS-01" in r for r in by_rule["no-reject-option"].refs)


def test_dialog_found_by_selector_or_clean_is_not_judged(tmp_path: Path) -> None:
    events: Events = [(1.0, "consent.shown", {"step": 1, "by": "selector", "selector": "text='同意'"}),
              (1.5, "consent.shown", _shown([])),
              (2.0, "consent.accept", {"step": 1})]
    rules = {"no-reject-option", "pre-ticked-consent", "ambiguous-accept", "accept-highlighted"}
    assert not [f for f in analyze(_bundle(tmp_path, events)).findings if f.rule in rules]


def test_accept_highlighted_counts_every_showing(tmp_path: Path) -> None:
    events: Events = [(1.0, "consent.shown", _shown(["accept-highlighted"])),
              (5.0, "consent.shown", _shown(["accept-highlighted"]))]
    (finding,) = _rule(tmp_path, events, "accept-highlighted")
    assert finding.count == 2 and finding.events == (2, 3)


def test_exit_within_ten_seconds_of_a_refusal(tmp_path: Path) -> None:
    events: Events = [(1.0, "consent.reject", {"layer": 1, "control": {"text": "不同意"}}),
              (2.0, "consent.reject", {"layer": 2, "control": {"text": "退出"}}),
              (2.4, "app.background", {"cause": "app", "foreground": "com.android.launcher3"}),
              (2.8, "app.exit", {"reason": "process-terminated", "expected": False})]
    (finding,) = _rule(tmp_path, events, "exit-after-refusal")
    assert finding.details["refusal"]["layer"] == 2
    assert finding.details["left"]["type"] == "app.background"
    assert finding.details["seconds_after_refusal"] == 0.4
    assert finding.events == (3, 4)
    assert any("CN-NEC-02" in r for r in finding.refs)


def test_leaving_caused_by_the_harness_or_late_is_not_exit_after_refusal(
        tmp_path: Path) -> None:
    events: Events = [(1.0, "consent.reject", {"layer": 1}),
              (3.0, "app.background", {"cause": "harness", "reason": "home"}),
              (4.0, "app.foreground", {"cause": "harness"}),
              (12.0, "app.background", {"cause": "app"}),
              (30.0, "app.exit", {"reason": "session end", "expected": True})]
    assert not _rule(tmp_path, events, "exit-after-refusal")


def test_process_exit_after_a_permission_denial(tmp_path: Path) -> None:
    events: Events = [(1.0, "permission.answer", {"answer": "deny", "control": {"text": "Don't allow"}}),
              (4.0, "app.exit", {"package": PKG, "observed_by": "ui", "cause": "app"})]
    (finding,) = _rule(tmp_path, events, "exit-after-refusal")
    assert finding.details["refusal"]["type"] == "permission.answer"
    assert finding.details["seconds_after_refusal"] == 3.0


def test_consent_reshown_on_the_next_start_is_an_observation(tmp_path: Path) -> None:
    events: Events = [(0.5, "app.spawn", {"pid": 1}),
              (1.0, "consent.shown", _shown([])),
              (2.0, "consent.reject", {"layer": 1}),
              (5.0, "app.spawn", {"pid": 2}),
              (6.5, "consent.shown", _shown([]))]
    (finding,) = _rule(tmp_path, events, "consent-reshown-after-refusal")
    assert finding.details["severity"] == "info"
    assert finding.details["seconds_after_start"] == [1.5]
    assert finding.events == (4, 5, 6)


def test_no_reshown_finding_when_the_refusal_is_respected(tmp_path: Path) -> None:
    events: Events = [(0.5, "app.spawn", {"pid": 1}), (1.0, "consent.shown", _shown([])),
              (2.0, "consent.reject", {"layer": 1}), (5.0, "app.spawn", {"pid": 2}),
              (9.0, "consent.not_found", {"step": 6})]
    assert not _rule(tmp_path, events, "consent-reshown-after-refusal")


def test_a_second_layer_in_the_same_start_is_not_reshown(tmp_path: Path) -> None:
    events: Events = [(0.5, "app.spawn", {"pid": 1}), (1.0, "consent.shown", _shown([])),
              (2.0, "consent.reject", {"layer": 1}), (2.5, "consent.shown", _shown([], 2))]
    assert not _rule(tmp_path, events, "consent-reshown-after-refusal")


def test_permission_reasked_after_denial_measures_the_interval(tmp_path: Path) -> None:
    prompt = {"package": "com.google.android.permissioncontroller",
              "message": "Allow Specimen to access this device's location?"}
    events: Events = [(1.0, "permission.prompt", prompt),
              (1.5, "permission.answer", {"answer": "deny"}),
              (5.25, "permission.prompt", prompt),
              (5.5, "permission.answer", {"answer": "deny", "auto": True}),
              (6.0, "permission.prompt", prompt)]
    (finding,) = _rule(tmp_path, events, "permission-reasked-after-denial")
    assert finding.details["intervals_s"] == [3.75, 0.5]
    assert finding.details["min_interval_s"] == 0.5 and finding.count == 2
    assert finding.details["message"] == prompt["message"]


def test_permission_allowed_then_asked_again_is_not_a_reask_after_denial(
        tmp_path: Path) -> None:
    events: Events = [(1.0, "permission.prompt", {}), (1.5, "permission.answer", {"answer": "allow"}),
              (4.0, "permission.prompt", {})]
    assert not _rule(tmp_path, events, "permission-reasked-after-denial")


def _hook(api: str, data_type: str) -> dict[str, Any]:
    return {"api": api, "category": "device_id", "data_type": data_type, "entry": api,
            "stack": [api, f"{PKG}.MainActivity.onCreate(MainActivity.java:12)"],
            "thread": "main", "process": PKG}


def test_reads_before_the_dialog_was_on_screen_are_counted(tmp_path: Path) -> None:
    seen = {"step": 2, "not_before": T0 + 2.0, "accept": "同意", "reject": "不同意",
            "findings": [], "screen": "screens/001-consent-dialog.xml"}
    events: Events = [
        (0.5, "hook.call", _hook("android.telephony.TelephonyManager.getImei", "imei")),
        (2.5, "hook.call", _hook("android.provider.Settings$Secure.getString", "android_id")),
        (3.0, "consent.dialog_seen", seen),
        (9.0, "consent.shown", _shown([])),
        (9.5, "consent.accept", {"step": 3, "layer": 1}),
    ]
    result = analyze(_bundle(tmp_path, events))
    assert result.consent_info()["shown"] == 3.0  # the sighting, not the answer at 9.0
    (finding,) = [f for f in result.findings if f.rule == "collect-before-consent"]
    assert finding.count == 2
    assert finding.details["dialog_not_shown_before"] == 2.0
    assert finding.details["before_dialog_shown"] == 1
    html = render_report(result)
    assert "<b>1</b> before the dialog was on screen (not shown before 2.000s)" in html


def test_dialog_seen_after_a_restart_counts_as_reshown(tmp_path: Path) -> None:
    seen = {"step": 5, "not_before": None, "accept": "同意", "reject": "不同意", "findings": [],
            "screen": "screens/004-consent-dialog.xml"}
    events: Events = [(1.0, "consent.shown", _shown([])),
                      (2.0, "consent.reject", {"step": 3, "layer": 1}),
                      (4.0, "app.spawn", {"pid": 2}),
                      (5.5, "consent.dialog_seen", seen)]
    (finding,) = _rule(tmp_path, events, "consent-reshown-after-refusal")
    assert finding.details["seconds_after_start"] == [1.5]
    assert finding.details["screen"] == "screens/004-consent-dialog.xml"
