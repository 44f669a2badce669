"""Traffic evidence in a real session: the specimen's Adjust stand-in sends SHA-256(Android ID)
upper-case hex inside JSON inside base64 inside a form field, through real mitmdump and TLS;
and mitmdump really starts in WireGuard mode on loopback and hands out its client config."""

from __future__ import annotations

import hashlib
import html
import json
import socket
from pathlib import Path

import pytest

from harness.capture.proxy import MitmdumpProcess
from harness.commands.demo import demo_session
from harness.device.canaries import GROUND_TRUTH_EVENT
from harness.session import SessionResult
from harness.specimen import facts
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

ANDROID_ID = facts.GROUND_TRUTH["android_id"][0]
WHERE = "body.form:data>$.device.aid"
TRANSFORM = "base64>json>sha256-hex-upper"


@pytest.fixture(scope="module")
def accept_run(tmp_path_factory: pytest.TempPathFactory, jdk: str,
               agent_bundle: object) -> SessionResult:
    require_tool("mitmdump", "pip install mitmproxy")
    # Only the identifier hooks: what this test needs, and crypto/network hooks inside TLS
    # handshakes would slow the uploads down for nothing.
    return demo_session("accept", tmp_path_factory.mktemp("adjust") / "run", settle=1.5,
                        category_filter={"device_id"})


def _json(run: SessionResult, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((run.run_dir / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_nested_send_before_consent_links_the_read_to_the_send(accept_run: SessionResult) -> None:
    findings = _json(accept_run, "findings.json")["findings"]
    adjust = [f for f in findings if f["rule"] == "send-before-consent"
              and f["details"]["host"] == "app.adjust.com"]
    assert len(adjust) == 1, findings
    finding = adjust[0]
    assert finding["sdk"] == "Adjust" and finding["data_types"] == ["android_id"]
    assert finding["details"]["party"] == "third" and finding["details"]["etld1"] == "adjust.com"
    [send] = finding["details"]["sends"]
    assert (send["where"], send["transform"], send["value"]) == (WHERE, TRANSFORM, ANDROID_ID)
    assert send["recipient"] == "Adjust" and send["source"] == "hook"
    assert send["read"]["api"] == "android.provider.Settings$Secure.getString"
    assert send["read"]["sdk"] == "Adjust" and send["read"]["t"] <= send["t"]


def test_every_flow_is_annotated_next_to_the_findings(accept_run: SessionResult) -> None:
    doc = _json(accept_run, "traffic.matches.json")
    assert doc["app"] == facts.PACKAGE
    hosts = [f["host"] for f in doc["flows"]]
    assert "app.adjust.com" in hosts and "alog.umeng.com" in hosts
    assert [f["index"] for f in doc["flows"]] == list(range(len(doc["flows"])))
    (adjust,) = [f for f in doc["flows"] if f["host"] == "app.adjust.com"]
    assert adjust["party"] == "third" and adjust["tracker"] == "Adjust"
    assert {"data_type": "android_id", "value": ANDROID_ID, "where": WHERE,
            "transform": TRANSFORM, "recipient": "Adjust", "party": "third",
            "source": "hook"} in adjust["matches"]
    (umeng,) = [f for f in doc["flows"] if f["host"] == "alog.umeng.com"]
    assert any(m["data_type"] == "imei" and m["transform"] == "json>md5-hex-lower"
               or m["transform"] == "md5-hex-lower" for m in umeng["matches"]), umeng
    report = (accept_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Traffic" in report and html.escape(WHERE) in report


def test_ground_truth_is_recorded_at_session_start(accept_run: SessionResult) -> None:
    events = [json.loads(line) for line in
              (accept_run.run_dir / "events.jsonl").read_text().splitlines()]
    (truth,) = [e for e in events if e["type"] == GROUND_TRUTH_EVENT]
    assert truth["data"]["values"]["android_id"] == [ANDROID_ID]
    assert truth["data"]["values"]["phone"] == facts.GROUND_TRUTH["phone_number"]
    first_spawn = next(e["seq"] for e in events if e["type"] == "app.spawn")
    assert truth["seq"] < first_spawn


def test_the_har_export_holds_the_nested_request(accept_run: SessionResult) -> None:
    har = _json(accept_run, "traffic.har")
    entries = [e for e in har["log"]["entries"] if "app.adjust.com" in e["request"]["url"]]
    assert len(entries) == 1
    posted = entries[0]["request"]["postData"]
    digest = hashlib.sha256(ANDROID_ID.encode()).hexdigest().upper()
    assert "data=" in posted["text"] and digest not in posted["text"]  # only visible decoded


def test_mitmdump_starts_in_wireguard_mode_and_exports_the_client_config(
        tmp_path: Path) -> None:
    require_tool("mitmdump", "pip install mitmproxy")
    errors: list[str] = []
    proxy = MitmdumpProcess(tmp_path / "run", confdir=tmp_path / "conf", mode="wireguard",
                            on_flow=lambda _: None, on_error=errors.append)
    with proxy:
        config = proxy.wireguard_config
        keys = json.loads((tmp_path / "conf" / "wireguard.conf").read_text())
        assert "[Interface]" in config and "[Peer]" in config
        assert f"PrivateKey = {keys['client_key']}" in config
        assert "AllowedIPs = 0.0.0.0/0" in config
        assert f"Endpoint = 127.0.0.1:{proxy.port}" in config
        # the WireGuard server really holds that UDP port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, \
                pytest.raises(OSError):
            probe.bind(("127.0.0.1", proxy.port))
        emulator = proxy.wireguard_client_config("10.0.2.2")
        assert f"Endpoint = 10.0.2.2:{proxy.port}" in emulator
        assert "127.0.0.1" not in emulator
    assert errors == []
    assert "wireguard@" in " ".join(proxy.command())
