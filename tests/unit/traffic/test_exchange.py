"""Flow events from events.jsonl -> HttpExchange; recipients and the tracker table."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InputError
from harness.traffic.exchange import from_flow_event
from harness.traffic.matcher import ValueMatcher
from harness.traffic.recipients import recipient_of, tracker_patterns

IMEI = "356938035643809"


def flow_event(**overrides: Any) -> dict[str, Any]:
    body = gzip.compress(json.dumps({"imei": IMEI}).encode())
    data: dict[str, Any] = {
        "id": "f-1", "index": 4, "method": "POST", "url": "https://alog.umeng.com/app_logs?x=1",
        "scheme": "https", "host": "alog.umeng.com", "port": 443, "path": "/app_logs?x=1",
        "http_version": "HTTP/1.1",
        "request_headers": [["Content-Type", "application/json"], ["Content-Encoding", "gzip"]],
        "request_body_b64": base64.b64encode(body).decode(), "request_body_size": len(body),
        "request_body_truncated": False, "status": 200, "response_headers": [],
        "t_request": 1764409600.5, "t_response": 1764409600.7, "error": None,
        "websocket_messages": [
            {"from_client": True, "content_b64": base64.b64encode(b"up " + IMEI.encode()).decode(),
             "t": 1.0},
            {"from_client": False, "content_b64": base64.b64encode(b"down").decode(), "t": 2.0},
        ],
    }
    data.update(overrides)
    return data


def test_from_flow_event_round_trip() -> None:
    exchange = from_flow_event(flow_event(), 4)
    assert (exchange.index, exchange.host, exchange.flow_id, exchange.t) == (
        4, "alog.umeng.com", "f-1", 1764409600.5)
    assert exchange.websocket_messages == [b"up " + IMEI.encode()]  # only what the app sent
    matches = ValueMatcher({"imei": [IMEI]}).scan(exchange)
    found = {(m.where, m.transform, m.recipient) for m in matches}
    assert found == {("body.json:$.imei", "gzip", "Umeng Analytics"),
                     ("websocket[0]", "plain", "Umeng Analytics")}


def test_from_flow_event_without_optional_fields() -> None:
    data = flow_event()
    del data["websocket_messages"]
    data["request_body_b64"] = ""
    exchange = from_flow_event(data, 0)
    assert exchange.request_body == b"" and exchange.websocket_messages == []


@pytest.mark.parametrize(("override", "message"), [
    ({"url": None}, "'url'"),
    ({"request_body_b64": "%%%"}, "not valid base64"),
    ({"request_headers": [["only-name"]]}, "[name, value] pairs"),
])
def test_bad_flow_event(override: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        from_flow_event(flow_event(**override), 0)


@pytest.mark.parametrize(("host", "tracker"), [
    ("alog.umeng.com", "Umeng Analytics"), ("plbslog.umeng.com", "Umeng Analytics"),
    ("msg.umeng.com", "Umeng"), ("android.bugly.qq.com", "Bugly"), ("qq.com", None),
    ("tsis.jpush.cn", "JPush (JiGuang)"), ("stats.jiguang.cn", "JPush (JiGuang)"),
    ("sdk.open.phone.igexin.com", "GeTui"), ("c-hzgt2.getui.com", "GeTui"),
    ("app.adjust.com", "Adjust"), ("t.appsflyer.com", "AppsFlyer"),
    ("app-measurement.com", "Google Firebase Analytics"),
    ("firebaseinstallations.googleapis.com", "Google Firebase Installations"),
    ("googleads.g.doubleclick.net", "Google AdMob"), ("graph.facebook.com", "Facebook"),
    ("config.unityads.unity3d.com", "Unity Ads"), ("outcome-ssp.supersonicads.com", "ironSource"),
    ("ms.applovin.com", "AppLovin"), ("api16-access-sg.pangle.io", "Pangle (ByteDance)"),
    ("hmma.baidu.com", "Baidu Mobstat"), ("pingma.qq.com", "Tencent MTA"),
    ("mi.gdt.qq.com", "Tencent GDT (YLH ads)"), ("example.org", None),
    ("notumeng.com", None), ("ALOG.UMENG.COM.", "Umeng Analytics"),
])
def test_tracker_of_host(host: str, tracker: str | None) -> None:
    assert recipient_of(host).tracker == tracker


@pytest.mark.parametrize(("host", "etld1"), [
    ("a.b.example.co.uk", "example.co.uk"), ("alog.umeng.com", "umeng.com"),
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "[::1]"), ("localhost", "localhost"),
])
def test_etld1(host: str, etld1: str) -> None:
    assert recipient_of(host).etld1 == etld1


@pytest.mark.shared_data
def test_table_agrees_with_exodus_signatures(shared_data: Path) -> None:
    """Hosts named in Exodus network signatures of trackers we list map to that vendor."""
    document = json.loads((shared_data / "exodus-trackers" / "exodus_trackers_2023-12.json")
                          .read_text())
    vendors = {"Umeng Analytics": "Umeng", "Bugly": "Bugly", "Adjust": "Adjust",
               "AppsFlyer": "AppsFlyer", "AppLovin (MAX and SparkLabs)": "AppLovin",
               "JiGuang Aurora Mobile JPush": "JPush"}
    checked = 0
    for tracker in document["trackers"]:
        expected = vendors.get(tracker["name"])
        if not expected:
            continue
        for alternative in tracker["network_signature"].split("|"):
            host = alternative.replace("\\.", ".").replace(".*.", "x.").lstrip("^").rstrip("$")
            if re.fullmatch(r"[a-z0-9.-]+", host):
                name = recipient_of(host).tracker
                assert name is not None and expected in name, (host, name)
                checked += 1
    assert checked >= 10


def test_table_is_well_formed() -> None:
    patterns = tracker_patterns()
    assert len(patterns) > 50
    assert all(p == p.lower() and "*" not in p and not p.startswith(".") for p in patterns)
