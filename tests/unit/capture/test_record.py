"""record.flow_payload on mitmproxy's own test flows (no process, no network)."""

from __future__ import annotations

import base64
import gzip
import json

from mitmproxy import http
from mitmproxy.test import tflow, tutils

from harness.capture.record import flow_event, flow_payload, format_address
from harness.events import FLOW_HTTP

PAYLOAD_KEYS = {
    "id", "index", "method", "url", "scheme", "host", "port", "path", "http_version",
    "request_headers", "request_body_b64", "request_body_size", "request_body_truncated",
    "status", "response_headers", "response_body_size", "t_request", "t_response", "error",
    "client", "tls", "sni",
}


def test_completed_flow_has_exactly_the_documented_keys() -> None:
    flow = tflow.tflow(resp=True)
    payload = flow_payload(flow, 7)
    assert set(payload) == PAYLOAD_KEYS
    assert payload["id"] == flow.id and payload["index"] == 7
    assert payload["method"] == "GET" and payload["url"] == "http://address:22/path"
    assert payload["host"] == "address" and payload["port"] == 22 and payload["path"] == "/path"
    assert payload["http_version"] == "HTTP/1.1"
    assert payload["status"] == 200 and payload["error"] is None
    assert base64.b64decode(payload["request_body_b64"]) == b"content"
    assert payload["request_body_size"] == 7 and payload["request_body_truncated"] is False
    assert payload["response_body_size"] == len(b"message")
    assert ["header", "qvalue"] in payload["request_headers"]
    assert payload["client"] == "127.0.0.1:22" and payload["tls"] is True
    assert payload["sni"] == "address"
    assert payload["t_request"] == flow.request.timestamp_end
    assert payload["t_response"] == flow.response.timestamp_end  # type: ignore[union-attr]
    json.dumps(payload)  # one stdout line: must be plain JSON


def test_host_is_the_name_the_client_asked_for() -> None:
    flow = tflow.tflow()
    flow.request.host = "10.0.0.5"
    flow.request.headers["Host"] = "alog.umeng.com"
    assert flow_payload(flow, 0)["host"] == "alog.umeng.com"


def test_failed_flow_has_error_and_no_response() -> None:
    payload = flow_payload(tflow.tflow(err=True), 0)
    assert payload["status"] is None and payload["t_response"] is None
    assert payload["response_headers"] == [] and payload["response_body_size"] is None
    assert payload["error"] == "error"


def test_body_is_raw_and_capped() -> None:
    compressed = gzip.compress(b"imei=860000000000001" * 50)
    request = tutils.treq(content=b"")
    request.headers["Content-Encoding"] = "gzip"
    request.raw_content = compressed
    payload = flow_payload(tflow.tflow(req=request), 0, body_cap=10)
    assert base64.b64decode(payload["request_body_b64"]) == compressed[:10]
    assert payload["request_body_size"] == len(compressed)
    assert payload["request_body_truncated"] is True


def test_streamed_request_without_body_counts_as_empty() -> None:
    flow = tflow.tflow()
    flow.request.raw_content = None
    payload = flow_payload(flow, 0)
    assert payload["request_body_b64"] == "" and payload["request_body_size"] == 0


def test_repeated_headers_keep_order_and_duplicates() -> None:
    flow = tflow.tflow(resp=True)
    flow.response.headers = http.Headers(  # type: ignore[union-attr]
        [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")])
    assert flow_payload(flow, 0)["response_headers"] == [["Set-Cookie", "a=1"],
                                                         ["Set-Cookie", "b=2"]]


def test_websocket_messages_in_order_with_direction() -> None:
    payload = flow_payload(tflow.twebsocketflow(), 0, body_cap=5)
    messages = payload["websocket_messages"]
    assert [m["from_client"] for m in messages] == [True, True, False]
    assert base64.b64decode(messages[2]["content_b64"]) == b"it's "
    assert messages[2]["truncated"] is True and messages[2]["t"] == 946681205
    assert payload["status"] == 101


def test_format_address() -> None:
    assert format_address(("::1", 443)) == "[::1]:443"
    assert format_address(None) == ""


def test_flow_event_is_on_the_proxy_timeline() -> None:
    payload = flow_payload(tflow.tflow(resp=True), 3)
    event = flow_event(payload)
    assert event.type == FLOW_HTTP and event.source == "proxy"
    assert event.t == payload["t_request"] and event.data is payload
