"""``consentry traffic scan`` on real HAR files and real mitmproxy dumps written in tmp_path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from mitmproxy import io as mitmio
from mitmproxy.test import tflow

from harness.cli import main

IMEI = "356938035643809"
AAID = "60e5d787-7b10-4341-8289-a784280e7f1f"


@pytest.fixture
def values(tmp_path: Path) -> Path:
    path = tmp_path / "values.json"
    path.write_text(json.dumps({"imei": [IMEI], "aaid": [AAID], "location": [[39.9087, 116.3975]]}))
    return path


def har(entries: list[dict[str, object]]) -> dict[str, object]:
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                    "entries": entries}}


def entry(url: str, text: str | None = None,
          headers: list[dict[str, str]] | None = None) -> dict[str, object]:
    request: dict[str, object] = {"method": "POST" if text else "GET", "url": url,
                                  "httpVersion": "HTTP/1.1", "headers": headers or [],
                                  "queryString": [], "cookies": [], "headersSize": -1,
                                  "bodySize": len(text or "")}
    if text is not None:
        request["postData"] = {"mimeType": "application/json", "text": text}
    return {"startedDateTime": "2026-11-29T10:00:00.000Z", "time": 1, "request": request,
            "response": {}, "cache": {}, "timings": {}}


def test_har_scan_json(tmp_path: Path, values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "capture.txt"  # detected by content, not by extension
    path.write_text(json.dumps(har([
        entry("https://example.org/"),
        entry("https://alog.umeng.com/app_logs", json.dumps({"device": {"imei": IMEI}})),
        entry(f"https://app.adjust.com/session?gps_adid={AAID}&lat=39.9087&lng=116.3975"),
    ])))
    assert main(["traffic", "scan", str(path), "--values", str(values), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {(m["flow"], m["data_type"], m["where"], m["recipient"]) for m in result} == {
        (1, "imei", "body.json:$.device.imei", "Umeng Analytics"),
        (2, "aaid", "query:gps_adid", "Adjust"),
        (2, "location", "query", "Adjust"),
    }
    assert set(result[0]) == {"flow", "data_type", "value", "url", "where", "transform", "host",
                              "recipient"}


def test_har_scan_table(tmp_path: Path, values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.har"
    path.write_text(json.dumps(har([entry(f"https://graph.facebook.com/x?advertiser_id={AAID}")])))
    assert main(["traffic", "scan", str(path), "--values", str(values)]) == 0
    out = capsys.readouterr().out
    assert "query:advertiser_id" in out and "Facebook" in out and "1 match(es)" in out


def test_mitmproxy_dump(tmp_path: Path, values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flows.mitm"
    plain = tflow.tflow(resp=True)
    leaky = tflow.tflow(resp=True)
    leaky.request.host = "firebaseinstallations.googleapis.com"
    leaky.request.headers["content-encoding"] = "gzip"
    leaky.request.raw_content = gzip.compress(json.dumps({"ids": [IMEI]}).encode())
    socket = tflow.twebsocketflow()
    socket.websocket.messages[0].content = f"hello {AAID}".encode()
    socket.websocket.messages[0].from_client = True
    with path.open("wb") as handle:
        writer = mitmio.FlowWriter(handle)
        for flow in (plain, leaky, socket):
            writer.add(flow)
    assert main(["traffic", "scan", str(path), "--values", str(values), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {(m["flow"], m["data_type"], m["where"], m["transform"]) for m in result} == {
        (1, "imei", "body.json:$.ids[0]", "gzip"),
        (2, "aaid", "websocket[0]", "plain"),
    }
    assert result[0]["recipient"] == "Google Firebase Installations"


@pytest.mark.parametrize(("content", "message"), [
    ('{"log": {"entries": [{"request": {"url": "https://a/"}}', "truncated"),
    ('{"not": "har"}', "not HAR 1.2"),
    ("hello world", "not a HAR file"),
    ("", "not a HAR file"),
    ("123:garbage", "mitmproxy flow dump"),
    ('{"log": {"entries": [{"request": {}}]}}', "log.entries[0]"),
])
def test_bad_capture_is_a_clear_error(tmp_path: Path, values: Path, content: str, message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.har"
    path.write_text(content)
    assert main(["traffic", "scan", str(path), "--values", str(values), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing half-printed
    assert message in captured.err and str(path) in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("content", "message"), [
    ('{"imei": ["1234', "invalid JSON"),
    ('["356938035643809"]', "must be a JSON object"),
    ('{"imei": "356938035643809"}', "must be a list"),
    ('{"location": [[1.0]]}', "[latitude, longitude]"),
])
def test_bad_values_file(tmp_path: Path, content: str, message: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "c.har"
    capture.write_text(json.dumps(har([entry(f"https://a.example/?imei={IMEI}")])))
    bad = tmp_path / "values.json"
    bad.write_text(content)
    assert main(["traffic", "scan", str(capture), "--values", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_missing_file(tmp_path: Path, values: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["traffic", "scan", str(tmp_path / "nope.har"), "--values", str(values)]) == 1
    assert "cannot read" in capsys.readouterr().err
