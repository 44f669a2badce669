"""Flow annotations (traffic.matches.json), first/third party, and sends that no hooked read
explains (ground truth, canaries), on hand-built bundles through the real analysis."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.annotate import MATCHES_FILE, annotate
from harness.analysis.engine import analyze, write_outputs
from harness.device.canaries import CANARY_EVENT, GROUND_TRUTH_EVENT
from harness.traffic.recipients import app_domain, party_of

T0 = 1764410400.0
PACKAGE = "org.consentry.specimen"
AAID = "60e5d787-7b10-4341-8289-a784280e7f1f"
ANDROID_ID = "5e3d9c7a1b2f4e60"
CANARY_NAME = "Consentry Canary 1a2b3c4d"
UMENG_STACK = ["android.provider.Settings$Secure.getString(Settings.java:1)",
               "com.umeng.commonsdk.statistics.DeviceConfig.getAndroidId(DeviceConfig.java:5)"]


def _event(seq: int, t: float, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"seq": seq, "t": T0 + t, "type": type_, "source": "host", "data": data}


def _flow(seq: int, t: float, url: str, body: bytes) -> dict[str, Any]:
    host = url.split("/")[2]
    return _event(seq, t, "flow.http", {
        "id": f"flow-{seq}", "method": "POST", "url": url, "host": host, "status": 200,
        "request_headers": [["Content-Type", "application/json"]],
        "request_body_b64": base64.b64encode(body).decode()})


def _bundle(tmp_path: Path, events: list[dict[str, Any]],
            first_party: list[str] | None = None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    app: dict[str, Any] = {"package": PACKAGE}
    if first_party is not None:
        app["first_party_domains"] = first_party
    manifest = {"schema": 1, "app": app, "target": {"name": "android"}, "t_start": T0,
                "t_end": T0 + 10, "status": "complete", "degraded": [],
                "scenario": {"name": "reject"}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def _events() -> list[dict[str, Any]]:
    """Before consent: the AAID (ground truth, never hooked) goes to AppsFlyer as SHA-1, a
    hooked Android ID read by Umeng goes to Umeng, and the app's own API gets the Android ID.
    After refusal: the canary contact name goes to Bugly, base64-encoded."""
    sha1 = hashlib.sha1(AAID.encode()).hexdigest()
    return [
        _event(1, 0.0, "session.start", {"target": "android", "app": PACKAGE}),
        _event(2, 0.1, GROUND_TRUTH_EVENT, {"values": {"advertising_id": [AAID],
                                                       "android_id": [ANDROID_ID]}}),
        _event(3, 0.2, CANARY_EVENT, {"kind": "contact", "data_type": "contacts",
                                      "value": CANARY_NAME, "planted": True, "error": None}),
        _event(4, 0.3, CANARY_EVENT, {"kind": "clipboard", "data_type": "clipboard",
                                      "value": "consentry-clip-1a2b3c4d", "planted": False,
                                      "error": "no shell clipboard command"}),
        _event(5, 1.0, "hook.call", {"api": "android.provider.Settings$Secure.getString",
                                     "category": "device_id", "data_type": "android_id",
                                     "ret": ANDROID_ID, "stack": UMENG_STACK}),
        _flow(6, 1.5, "https://t.appsflyer.com/api/v6/androidevent",
              json.dumps({"advertiserIdSha1": sha1}).encode()),
        _flow(7, 1.6, "https://alog.umeng.com/app_logs",
              json.dumps({"header": {"aid": ANDROID_ID}}).encode()),
        _flow(8, 1.7, "https://api.consentry.org/v1/start",
              json.dumps({"device": ANDROID_ID}).encode()),
        _flow(9, 1.8, "https://cdn.example.net/logo.png", b"{}"),
        _event(10, 2.0, "consent.shown", {"step": 1, "screen": "s.xml"}),
        _event(11, 3.0, "consent.reject", {"step": 2, "screen": "s2.xml"}),
        _flow(12, 4.0, "https://android.bugly.qq.com/rqd/async",
              json.dumps({"c": base64.b64encode(CANARY_NAME.encode()).decode()}).encode()),
        _event(13, 5.0, "session.end", {"status": "complete", "reason": None}),
    ]


def _sends(findings: list[dict[str, Any]], rule: str, host: str) -> list[dict[str, Any]]:
    return [s for f in findings if f["rule"] == rule and f["details"]["host"] == host
            for s in f["details"]["sends"]]


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    run = _bundle(tmp_path, _events())
    write_outputs(run, analyze(run))
    return run


def test_ground_truth_send_without_a_hooked_read_is_reported(analysed: Path) -> None:
    findings = json.loads((analysed / "findings.json").read_text())["findings"]
    (finding,) = [f for f in findings if f["rule"] == "send-before-consent"
                  and f["details"]["host"] == "t.appsflyer.com"]
    assert finding["sdk"] == "AppsFlyer"  # no read: attributed by the recipient's signature
    assert finding["data_types"] == ["aaid"]  # advertising_id unified to the matcher's name
    assert finding["details"]["sources"] == ["ground_truth"]
    (send,) = finding["details"]["sends"]
    assert send["read"] is None and send["source"] == "ground_truth"
    assert (send["where"], send["transform"]) == ("body.json:$.advertiserIdSha1",
                                                  "sha1-hex-lower")
    assert send["party"] == "third" and send["etld1"] == "appsflyer.com"


def test_canary_sent_after_refusal_is_reported(analysed: Path) -> None:
    findings = json.loads((analysed / "findings.json").read_text())["findings"]
    (send,) = _sends(findings, "send-after-refusal", "android.bugly.qq.com")
    assert (send["data_type"], send["value"], send["source"]) == ("contacts", CANARY_NAME,
                                                                  "canary")
    assert send["read"] is None and send["transform"] == "base64"
    assert send["where"] == "body.json:$.c"


def test_a_hooked_read_wins_over_ground_truth(analysed: Path) -> None:
    findings = json.loads((analysed / "findings.json").read_text())["findings"]
    (send,) = _sends(findings, "send-before-consent", "alog.umeng.com")
    assert send["source"] == "hook" and send["read"]["sdk"] == "Umeng"
    assert send["read"]["api"] == "android.provider.Settings$Secure.getString"


def test_every_flow_is_annotated_with_recipient_party_and_matches(analysed: Path) -> None:
    doc = json.loads((analysed / MATCHES_FILE).read_text())
    flows = {f["host"]: f for f in doc["flows"]}
    assert [f["index"] for f in doc["flows"]] == [0, 1, 2, 3, 4]
    assert [f["id"] for f in doc["flows"]] == ["flow-6", "flow-7", "flow-8", "flow-9",
                                               "flow-12"]
    own = flows["api.consentry.org"]
    assert (own["party"], own["etld1"], own["tracker"]) == ("first", "consentry.org", None)
    assert own["matches"] == [{"data_type": "android_id", "value": ANDROID_ID,
                               "where": "body.json:$.device", "transform": "plain",
                               "recipient": None, "party": "first", "source": "hook"}]
    assert flows["cdn.example.net"]["matches"] == []
    assert flows["cdn.example.net"]["party"] == "third"
    assert flows["t.appsflyer.com"]["tracker"] == "AppsFlyer"
    assert flows["android.bugly.qq.com"]["phase"] == "refused"
    assert flows["android.bugly.qq.com"]["matches"][0]["source"] == "canary"
    # the unplanted clipboard canary is not searched for
    assert not any(m["data_type"] == "clipboard" for f in doc["flows"] for m in f["matches"])


def test_annotations_are_deterministic_and_shown_in_the_report(analysed: Path) -> None:
    first = (analysed / MATCHES_FILE).read_bytes()
    write_outputs(analysed, analyze(analysed))
    assert (analysed / MATCHES_FILE).read_bytes() == first
    report = (analysed / "report.html").read_text()
    assert "Traffic" in report and "body.json:$.advertiserIdSha1" in report
    assert "no hooked read: the value is known from ground_truth" in report


def test_configured_first_party_domains(tmp_path: Path) -> None:
    run = _bundle(tmp_path, _events(), first_party=["appsflyer.com"])
    doc = annotate(analyze(run).context)
    parties = {f["host"]: f["party"] for f in doc["flows"]}
    assert parties["t.appsflyer.com"] == "first" and parties["alog.umeng.com"] == "third"
    assert doc["first_party_domains"] == ["appsflyer.com"]


@pytest.mark.parametrize(("host", "package", "domains", "party"), [
    ("api.consentry.org", PACKAGE, [], "first"),
    ("consentry.org", PACKAGE, [], "first"),
    ("consentry.org.evil.com", PACKAGE, [], "third"),
    ("weixin.qq.com", "com.tencent.mm", [], "third"),  # tencent.com is not qq.com ...
    ("weixin.qq.com", "com.tencent.mm", ["qq.com"], "first"),  # ... unless configured
    ("static.bbc.co.uk", "uk.co.bbc.iplayer", [], "first"),
    ("app.adjust.com", PACKAGE, [], "third"),
    ("10.0.2.2", PACKAGE, [], "third"),
    ("API.CONSENTRY.ORG.", PACKAGE, [], "first"),
])
def test_first_or_third_party(host: str, package: str, domains: list[str], party: str) -> None:
    assert party_of(host, package, domains) == party


def test_app_domain_from_package() -> None:
    assert app_domain(PACKAGE) == "consentry.org"
    assert app_domain("com.tencent.mm") == "tencent.com"
    assert app_domain("localapp") is None
