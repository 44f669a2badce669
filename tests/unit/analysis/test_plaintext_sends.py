"""Sends seen only below TLS (net.plaintext) count like proxied flows, once."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from harness.analysis.engine import analyze

IMEI = "866123045678912"


def _write(run: Path, events: list[dict]) -> Path:
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({
        "schema": 1, "status": "complete", "t_start": 100.0,
        "app": {"package": "org.consentry.specimen"}, "target": {"name": "local"}}))
    lines = [json.dumps({"seq": i, "source": "agent", **e}) for i, e in enumerate(events, 1)]
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run


def _read(t: float) -> dict:
    return {"t": t, "type": "hook.call", "data": {
        "entry": "telephony.getDeviceId", "api": "android.telephony.TelephonyManager.getDeviceId",
        "category": "device_id", "data_type": "imei", "ret": IMEI, "args": [],
        "stack": ["android.telephony.TelephonyManager.getDeviceId(Native Method)",
                  "com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:40)"]}}


def _plaintext(t: float, raw: bytes, direction: str = "out") -> dict:
    return {"t": t, "type": "net.plaintext", "data": {
        "direction": direction, "data_b64": base64.b64encode(raw).decode(), "size": len(raw),
        "module": "libssl.so", "peer": "203.0.113.7:443", "stack": []}}


def test_a_pinned_request_seen_only_in_plaintext_is_a_send(tmp_path):
    request = (b"POST /app_logs?imei=" + IMEI.encode() + b" HTTP/1.1\r\n"
               b"Host: alog.umeng.com\r\nContent-Length: 0\r\n\r\n")
    run = _write(tmp_path / "run", [
        {"t": 100.0, "type": "session.start", "data": {}},
        _read(101.0),
        _plaintext(102.0, request),
        _plaintext(102.5, b"HTTP/1.1 200 OK\r\n\r\n" + IMEI.encode(), direction="in"),
    ])
    sends = [f for f in analyze(run).findings if f.rule == "send-before-consent"]
    assert len(sends) == 1
    doc = json.dumps(sends[0].to_json(), default=str)
    assert "alog.umeng.com" in doc and "plaintext-3" in doc
    assert sends[0].count == 1  # the response (direction in) is not a send


def test_non_http_plaintext_is_searched_raw(tmp_path):
    run = _write(tmp_path / "run", [
        {"t": 100.0, "type": "session.start", "data": {}},
        _read(101.0),
        _plaintext(102.0, b"\x00\x05JPUSH\x00" + IMEI.encode() + b"\x00"),
    ])
    sends = [f for f in analyze(run).findings if f.rule == "send-before-consent"]
    assert sends and "203.0.113.7" in json.dumps(sends[0].to_json(), default=str)


def test_a_request_the_proxy_also_saw_counts_once(tmp_path):
    body = json.dumps({"imei": IMEI}).encode()
    raw = (b"POST /app_logs HTTP/1.1\r\nHost: alog.umeng.com\r\n"
           b"Content-Type: application/json\r\n\r\n" + body)
    flow = {"t": 102.1, "type": "flow.http", "source": "proxy", "data": {
        "id": "f1", "index": 0, "method": "POST", "url": "https://alog.umeng.com/app_logs",
        "scheme": "https", "host": "alog.umeng.com", "port": 443, "path": "/app_logs",
        "request_headers": [["Host", "alog.umeng.com"]],
        "request_body_b64": base64.b64encode(body).decode(), "status": 200}}
    run = _write(tmp_path / "run", [
        {"t": 100.0, "type": "session.start", "data": {}},
        _read(101.0), _plaintext(102.0, raw), flow,
    ])
    sends = [f for f in analyze(run).findings if f.rule == "send-before-consent"]
    assert len(sends) == 1 and sends[0].count == 1
    assert "f1" in json.dumps(sends[0].to_json(), default=str)
