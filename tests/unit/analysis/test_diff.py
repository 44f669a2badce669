"""Night-to-night comparison on hand-built bundles: identity ignores counts, times and event
numbers; count and host changes are "changed"; hosts, recipients and reads per SDK; runs that
lost evidence and different apps are flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.analysis.diff import RunDiff, diff_runs, facts_of
from harness.analysis.engine import analyze

T0 = 1764410400.0
PKG = "org.consentry.specimen"
IMEI = "866123045678912"
ANDROID_ID = "9774d56d682e549c"
UMENG_FRAME = "com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)"
BUGLY_FRAME = "com.tencent.bugly.crashreport.common.info.b.a(BUGLY:77)"
Events = list[tuple[float, str, dict[str, Any]]]


def read(frame: str, data_type: str = "imei", value: str = IMEI) -> dict[str, Any]:
    api = ("android.telephony.TelephonyManager.getDeviceId" if data_type == "imei"
           else "android.provider.Settings$Secure.getString")
    return {"api": api, "category": "device_id", "data_type": data_type, "args": [],
            "ret": value, "stack": [f"{api}(X.java:1)", frame, f"{PKG}.App.onCreate(App.java:9)"],
            "thread": "main", "process": PKG}


def flow(host: str, query: str, n: int = 0) -> dict[str, Any]:
    return {"id": f"flow-{n}", "index": n, "method": "GET", "scheme": "https", "host": host,
            "port": 443, "url": f"https://{host}/log?{query}", "path": f"/log?{query}",
            "request_headers": [], "request_body_b64": "", "status": 200}


def bundle(root: Path, name: str, events: Events, **manifest: Any) -> Path:
    """A run directory in the recorder's format; ``manifest`` overrides its fields."""
    run = root / name
    run.mkdir()
    facts = {"schema": 1, "app": {"package": PKG}, "t_start": T0, "t_end": T0 + 60,
             "status": "complete", "incomplete_reason": None, "degraded": [],
             "scenario": {"name": "idle"}, "target": {"name": "local"}, **manifest}
    (run / "manifest.json").write_text(json.dumps(facts))
    lines = [{"seq": 1, "t": T0, "type": "session.start", "source": "host", "data": {}}]
    for i, (dt, kind, data) in enumerate(events, 2):
        source = "proxy" if kind == "flow.http" else "agent"
        lines.append({"seq": i, "t": T0 + dt, "type": kind, "source": source, "data": data})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return run


def compare(tmp_path: Path, old: Events, new: Events, **new_manifest: Any) -> RunDiff:
    return diff_runs(facts_of(analyze(bundle(tmp_path, "old", old))),
                     facts_of(analyze(bundle(tmp_path, "new", new, **new_manifest))))


BASE: Events = [(0.5, "hook.call", read(UMENG_FRAME)),
                (1.0, "flow.http", flow("alog.umeng.com", f"imei={IMEI}"))]


def test_same_behaviour_at_other_times_and_seqs_is_unchanged(tmp_path: Path) -> None:
    shifted: Events = [(0.1, "lifecycle", {"what": "noise"}), (2.5, "hook.call", read(UMENG_FRAME)),
                       (7.0, "flow.http", flow("alog.umeng.com", f"imei={IMEI}", 4))]
    diff = compare(tmp_path, BASE, shifted)
    assert (diff.new_findings, diff.gone_findings, diff.changed_findings) == ([], [], [])
    assert diff.unchanged == 2  # collect-before-consent and send-before-consent
    assert diff.same_app and diff.warnings == []
    doc = diff.to_json()
    assert doc["trustworthy"] is True and doc["findings"]["gone_confirmed"] is True
    assert doc["hosts"] == {"new": [], "gone": []}


def test_more_reads_of_the_same_kind_is_a_changed_count(tmp_path: Path) -> None:
    more = [*BASE, (3.0, "hook.call", read(UMENG_FRAME)), (4.0, "hook.call", read(UMENG_FRAME))]
    diff = compare(tmp_path, BASE, more)
    assert diff.new_findings == [] and diff.gone_findings == []
    [change] = diff.changed_findings
    assert change.new.key == ("collect-before-consent", "Umeng", ("imei",))
    assert change.to_json()["count"] == {"old": 1, "new": 3}
    assert change.to_json()["hosts"] == {"new": [], "gone": []}


def test_new_sdk_reading_is_a_new_finding_and_a_new_read(tmp_path: Path) -> None:
    new: Events = [*BASE, (1.5, "hook.call", read(BUGLY_FRAME, "android_id", ANDROID_ID))]
    diff = compare(tmp_path, BASE, new)
    assert [f.key for f in diff.new_findings] == [
        ("collect-before-consent", "Tencent Bugly", ("android_id",))]
    assert diff.gone_findings == []
    doc = diff.to_json()
    assert doc["reads"] == {"new": {"Tencent Bugly": ["android_id"]}, "gone": {}}
    assert doc["findings"]["new"][0]["title"] == "Personal data collected before consent"
    # and the reverse direction: gone, not new
    reverse = diff_runs(diff.new, diff.old)
    assert [f.sdk for f in reverse.gone_findings] == ["Tencent Bugly"]
    assert reverse.new_findings == []
    assert reverse.to_json()["reads"]["gone"] == {"Tencent Bugly": ["android_id"]}


def test_sending_to_another_host_changes_the_finding_hosts_and_recipients(
    tmp_path: Path,
) -> None:
    moved: Events = [(0.5, "hook.call", read(UMENG_FRAME)),
                     (1.0, "flow.http", flow("ulogs.umeng.com", f"id={IMEI}")),
                     (1.2, "flow.http", flow("cdn.example.test", "x=1", 1))]
    diff = compare(tmp_path, BASE, moved)
    assert diff.new_findings == [] and diff.gone_findings == []
    [change] = diff.changed_findings
    assert change.new.rule == "send-before-consent"
    assert change.to_json()["hosts"] == {"new": ["ulogs.umeng.com"], "gone": ["alog.umeng.com"]}
    assert change.to_json()["count"] == {"old": 1, "new": 1}
    doc = diff.to_json()
    assert doc["hosts"] == {"new": ["cdn.example.test", "ulogs.umeng.com"],
                            "gone": ["alog.umeng.com"]}
    assert doc["recipients"] == {"new": {"ulogs.umeng.com": ["imei"]},
                                 "gone": {"alog.umeng.com": ["imei"]}}


def test_findings_sharing_an_identity_are_merged(tmp_path: Path) -> None:
    two_hosts: Events = [*BASE, (1.5, "flow.http", flow("plus.umeng.com", f"imei={IMEI}", 1))]
    facts = facts_of(analyze(bundle(tmp_path, "run", two_hosts)))
    sends = [f for f in facts.findings.values() if f.rule == "send-before-consent"]
    assert len(sends) == 1
    assert sends[0].hosts == {"alog.umeng.com", "plus.umeng.com"}
    assert sends[0].count == 2


def test_incomplete_new_run_makes_gone_unconfirmed(tmp_path: Path) -> None:
    cut: Events = [(0.5, "hook.call", read(UMENG_FRAME))]
    diff = compare(tmp_path, BASE, cut, status="incomplete", incomplete_reason="device lost")
    assert [f.rule for f in diff.gone_findings] == ["send-before-consent"]
    assert not diff.new.sound and diff.old.sound
    assert diff.new.problems == ("incomplete (device lost)",)
    assert diff.warnings[0].startswith("the NEW run lost evidence (incomplete (device lost))")
    doc = diff.to_json()
    assert doc["trustworthy"] is False
    assert doc["findings"]["gone_confirmed"] is False
    assert doc["new"]["sound"] is False and doc["new"]["status"] == "incomplete"


def test_degraded_old_run_is_flagged(tmp_path: Path) -> None:
    old = facts_of(analyze(bundle(tmp_path, "old", BASE, degraded=["agent dropped 3 events"])))
    new = facts_of(analyze(bundle(tmp_path, "new", BASE)))
    diff = diff_runs(old, new)
    assert diff.warnings == ["the OLD run lost evidence (degraded: agent dropped 3 events): a "
                             "new finding may only have been missed by it"]
    assert diff.to_json()["findings"]["gone_confirmed"] is True


def test_different_apps_and_scenarios_are_warned(tmp_path: Path) -> None:
    diff = compare(tmp_path, BASE, BASE, app={"package": "com.other.app"},
                   scenario={"name": "accept"})
    assert not diff.same_app
    assert diff.warnings[0].startswith(f"the runs are of different apps (old {PKG}, new "
                                       "com.other.app)")
    assert any(w.startswith("the scenarios differ (old idle, new accept)") for w in diff.warnings)
    assert diff.to_json()["same_app"] is False


def test_an_sdk_reading_one_type_more_pairs_new_with_gone(tmp_path: Path) -> None:
    more: Events = [*BASE, (0.7, "hook.call", read(UMENG_FRAME, "android_id", ANDROID_ID))]
    diff = compare(tmp_path, BASE, more)
    [added] = [f for f in diff.new_findings if f.rule == "collect-before-consent"]
    assert added.data_types == ("android_id", "imei")
    assert [g.data_types for g in diff.gone_findings] == [("imei",)]
    assert diff.was(added) == [["imei"]]
    [doc] = [f for f in diff.to_json()["findings"]["new"] if f["rule"] == "collect-before-consent"]
    assert doc["was"] == [["imei"]]
    assert diff.to_json()["reads"]["new"] == {"Umeng": ["android_id"]}
