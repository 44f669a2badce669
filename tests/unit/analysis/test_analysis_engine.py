from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.analysis.engine import analyze, write_outputs
from harness.analysis.model import Finding
from harness.analysis.rules import default_rules
from tests.unit.crashing_rule import CrashingRule

Row = tuple[str, str, tuple[str, ...], int, tuple[int, ...], tuple[str, ...], float]

EXPECTED: dict[str, tuple[str, list[Row]]] = {
    "accept": ("accepted", [
        ("collect-before-consent", "Tencent Bugly", ("android_id",), 1, (5,), (), 1.0),
        ("collect-before-consent", "Umeng", ("android_id", "imei"), 2, (2, 3), (), 0.5),
        ("permission-before-consent", "app", ("android.permission.READ_PHONE_STATE",), 1,
         (4,), (), 0.8),
        ("send-before-consent", "Tencent Bugly", ("android_id",), 1, (5, 7), ("flow-1",), 1.8),
        ("send-before-consent", "Umeng", ("android_id", "imei"), 2, (2, 3, 6), ("flow-0",),
         1.5),
    ]),
    "reject": ("rejected", [
        ("collect-before-consent", "Umeng", ("android_id",), 1, (2,), (), 0.5),
        ("collect-after-refusal", "Umeng", ("imei",), 1, (5,), (), 2.5),
        ("collect-after-refusal", "unknown: com.acme.tracker", ("imei",), 1, (6,), (), 2.6),
        ("send-after-refusal", "unknown: com.acme.tracker", ("imei",), 1, (6, 7),
         ("flow-0",), 3.0),
    ]),
    "never": ("never", [
        ("collect-before-consent", "AMap", ("location",), 1, (3,), (), 0.5),
        ("collect-before-consent", "app", ("imei",), 1, (5,), (), 0.9),
        ("collect-before-consent", "unknown", ("mac",), 1, (4,), (), 0.7),
        ("send-before-consent", "AMap", ("location",), 1, (3, 6), ("flow-0",), 2.0),
    ]),
    "truncated": ("never", [
        ("collect-before-consent", "Tencent Bugly", ("android_id",), 1, (5,), (), 1.0),
        ("collect-before-consent", "Umeng", ("android_id", "imei"), 2, (2, 3), (), 0.5),
        ("permission-before-consent", "app", ("android.permission.READ_PHONE_STATE",), 1,
         (4,), (), 0.8),
        ("send-before-consent", "Umeng", ("android_id", "imei"), 2, (2, 3, 6), ("flow-0",),
         1.5),
    ]),
}


def _row(f: Finding) -> Row:
    assert f.first_seen is not None
    return (f.rule, f.sdk, f.data_types, f.count, f.events, f.flows, f.first_seen)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_runs_give_exactly_the_expected_findings(runs: Path, name: str) -> None:
    state, rows = EXPECTED[name]
    result = analyze(runs / name)
    assert result.consent_info()["state"] == state
    assert [_row(f) for f in result.findings] == rows
    assert result.rule_errors == []


def test_send_links_the_read_to_the_request(runs: Path) -> None:
    result = analyze(runs / "accept")
    sends = {f.sdk: f.details for f in result.findings if f.rule == "send-before-consent"}
    umeng = sends["Umeng"]
    assert umeng["host"] == "alog.umeng.com"
    assert [(s["data_type"], s["where"], s["transform"], s["read"]["seq"])
            for s in umeng["sends"]] == [("android_id", "body.json:$.aid", "md5-hex-lower", 3),
                                         ("imei", "body.json:$.imei", "plain", 2)]
    assert umeng["read_by"] == ["Umeng"]
    bugly = sends["Tencent Bugly"]["sends"]
    assert [(s["where"], s["transform"], s["read"]["api"]) for s in bugly] == [
        ("header:X-Device", "base64", "android.provider.Settings$Secure.getString")]


def test_collection_examples_keep_a_stack_excerpt(runs: Path) -> None:
    result = analyze(runs / "accept")
    umeng = next(f for f in result.findings if f.rule == "collect-before-consent"
                 and f.sdk == "Umeng")
    first = umeng.details["examples"][0]
    assert first["frame"] == "com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(" \
                             "DeviceConfig.java:120)"
    assert first["stack"][0].startswith("java.lang.Thread.getStackTrace")
    assert umeng.sdk_package == "com.umeng"
    assert umeng.details["by_data_type"] == {"android_id": 1, "imei": 1}
    assert any("CN-PRECONSENT-01" in ref for ref in umeng.refs)


def test_location_send_is_matched_as_a_pair(runs: Path) -> None:
    result = analyze(runs / "never")
    [send] = [f for f in result.findings if f.rule == "send-before-consent"]
    [detail] = send.details["sends"]
    assert (detail["value"], detail["where"], detail["read"]["seq"]) == (
        "39.904211,116.407395", "body.form:location", 3)
    assert detail["excerpt"] == "location=116.407395%2C39.904211&output=json"


def test_consent_category_calls_are_not_collection(runs: Path) -> None:
    result = analyze(runs / "never")
    seqs = {s for f in result.findings for s in f.events}
    assert 2 not in seqs  # AMap updatePrivacyAgree is a consent signal, not a read


def test_incomplete_run_is_reported_as_such(runs: Path) -> None:
    doc = analyze(runs / "truncated").document()
    assert doc["run"]["status"] == "incomplete"
    assert doc["run"]["incomplete_reason"] == "harness killed"
    assert "events.jsonl:7" in doc["run"]["warnings"][0]


def test_reanalysis_is_byte_identical(run_copy: Callable[[str], Path]) -> None:
    run_dir = run_copy("accept")
    write_outputs(run_dir, analyze(run_dir))
    first = [(run_dir / n).read_bytes() for n in ("findings.json", "report.html")]
    write_outputs(run_dir, analyze(run_dir))
    second = [(run_dir / n).read_bytes() for n in ("findings.json", "report.html")]
    assert first == second
    doc = json.loads(first[0])
    assert doc["schema"] == 1
    assert doc["consent"] == {"state": "accepted", "shown": 2.0, "decided": 3.0,
                              "decisions": [{"t": 3.0, "decision": "accept"}]}
    assert doc["stats"]["flows"] == 3
    assert doc["stats"]["events"]["hook.call"] == 4
    assert len(doc["findings"]) == 5


def test_a_crashing_rule_is_contained_and_the_others_still_run(runs: Path) -> None:
    rules = [CrashingRule(error=ZeroDivisionError("boom in always-crashes")), *default_rules()]
    result = analyze(runs / "accept", rules=rules)
    assert [(e.rule, e.error) for e in result.rule_errors] == [
        ("always-crashes", "ZeroDivisionError: boom in always-crashes")]
    assert len(result.findings) == 5
    assert result.document()["rule_errors"] == [
        {"rule": "always-crashes", "error": "ZeroDivisionError: boom in always-crashes"}]


def test_default_rules_have_stable_unique_ids() -> None:
    ids = [r.id for r in default_rules()]
    assert ids == ["collect-before-consent", "permission-before-consent", "send-before-consent",
                   "collect-after-refusal", "permission-after-refusal", "send-after-refusal",
                   "no-reject-option", "pre-ticked-consent", "ambiguous-accept",
                   "accept-highlighted", "exit-after-refusal", "consent-reshown-after-refusal",
                   "permission-reasked-after-denial"]
    assert len(set(ids)) == len(ids)
    assert all(r.refs and r.title and r.title_zh for r in default_rules())


def test_permission_after_refusal_and_reject_then_accept(tmp_path: Path) -> None:
    stack = ["android.app.Activity.requestPermissions(Activity.java:1)",
             "com.igexin.push.core.Init.run(Init.java:2)"]

    def line(seq: int, t: float, kind: str, **data: object) -> str:
        return json.dumps({"seq": seq, "t": 100.0 + t, "type": kind, "source": "agent",
                           "data": data})

    perm = {"api": "android.app.Activity.requestPermissions", "stack": stack,
            "permissions": ["android.permission.ACCESS_FINE_LOCATION"]}
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": 1, "status": "complete",
                                                        "t_start": 100.0}))
    (tmp_path / "events.jsonl").write_text("\n".join([
        line(1, 1.0, "consent.reject"),
        line(2, 2.0, "permission.request", **perm),
        line(3, 3.0, "consent.accept"),
        line(4, 4.0, "permission.request", **perm),
    ]) + "\n")
    result = analyze(tmp_path)
    assert result.consent_info()["state"] == "accepted"
    assert [(f.rule, f.sdk, f.data_types, f.events) for f in result.findings] == [
        ("permission-after-refusal", "GeTui", ("android.permission.ACCESS_FINE_LOCATION",), (2,))]
    assert result.findings[0].details["requested"] == ["android.permission.ACCESS_FINE_LOCATION"]
