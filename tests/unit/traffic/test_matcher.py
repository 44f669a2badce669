"""Known values in every encoding and nesting, and decoys that must not match."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from urllib.parse import quote

import pytest
from traffic_helpers import hits, request

from harness.errors import InputError
from harness.traffic.matcher import ValueMatcher

IMEI = "356938035643809"
AID = "9774d56d682e549c"
AAID = "60e5d787-7b10-4341-8289-a784280e7f1f"
MAC = "02:00:00:4a:5b:6c"
LAT, LON = 39.908722, 116.397499
VALUES = {"imei": [IMEI], "android_id": [AID], "aaid": [AAID], "mac": [MAC],
          "location": [[LAT, LON]],
          "installed_packages": ["com.tencent.mm", "com.sina.weibo", "com.eg.android.AlipayGphone",
                                 "com.ss.android.ugc.aweme"],
          "ssid": ["HomeNet-5G"]}


@pytest.fixture(scope="module")
def matcher() -> ValueMatcher:
    return ValueMatcher(VALUES)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# (description, url, body, headers, data_type, where, transform)
CASES = [
    ("plain query", f"https://a.example/t?imei={IMEI}", b"", [], "imei", "query:imei", "plain"),
    ("json body", "https://a.example/t", json.dumps({"device": {"imei": IMEI}}).encode(),
     [("Content-Type", "application/json")], "imei", "body.json:$.device.imei", "plain"),
    ("imei as json number", "https://a.example/t", b'{"d": [1, {"i": 356938035643809}]}', [],
     "imei", "body.json:$.d[1].i", "plain"),
    ("base64>json>md5-hex-upper", "https://a.example/t?data="
     + quote(b64(json.dumps({"device": {"imei": md5(IMEI).upper()}}))), b"", [],
     "imei", "query:data>$.device.imei", "base64>json>md5-hex-upper"),
    ("sha256 header", "https://a.example/t", b"",
     [("X-Device", hashlib.sha256(AID.encode()).hexdigest())], "android_id", "header:X-Device",
     "sha256-hex-lower"),
    ("sha1 of upper-cased value", "https://a.example/t?h="
     + hashlib.sha1(AID.upper().encode()).hexdigest(), b"", [], "android_id", "query:h",
     "upper>sha1-hex-lower"),
    ("sha512 base64 in form", "https://a.example/t",
     ("a=1&sig=" + quote(b64(hashlib.sha512(IMEI.encode()).digest()))).encode(),
     [("Content-Type", "application/x-www-form-urlencoded")], "imei", "body.form:sig",
     "sha512-base64"),
    ("cookie", "https://a.example/t", b"", [("Cookie", f"sid=1; gaid={AAID}")], "aaid",
     "cookie:gaid", "plain"),
    ("upper-case aaid", "https://a.example/t?ifa=" + AAID.upper(), b"", [], "aaid", "query:ifa",
     "upper"),
    ("url-encoded twice inside json", "https://a.example/t",
     json.dumps({"p": quote(quote(f"id={AAID}&x=1", safe=""), safe="")}).encode(), [], "aaid",
     "body.json:$.p>id", "url>url>form"),
    ("gzip body", "https://a.example/t", gzip.compress(json.dumps({"aid": AID}).encode()),
     [("Content-Encoding", "gzip")], "android_id", "body.json:$.aid", "gzip"),
    ("base64 gzip blob in json", "https://a.example/t",
     json.dumps({"blob": b64(gzip.compress(f"imei={IMEI}&a=b".encode()))}).encode(), [], "imei",
     "body.json:$.blob>imei", "base64>gzip>form"),
    ("json inside a json string", "https://a.example/t",
     json.dumps({"ext": json.dumps({"mac": MAC.replace(":", "").upper()})}).encode(), [], "mac",
     "body.json:$.ext>$.mac", "json>mac-nosep-upper"),
    ("mac dash lower", f"https://a.example/t?m={MAC.replace(':', '-')}", b"", [], "mac",
     "query:m", "mac-dash-lower"),
    ("hex of the value", "https://a.example/t?x=" + IMEI.encode().hex(), b"", [], "imei",
     "query:x", "hex-lower"),
    ("path segment", f"https://a.example/v1/{AID}/report", b"", [], "android_id", "path",
     "plain"),
    ("unpadded url-safe base64", "https://a.example/t?s="
     + base64.urlsafe_b64encode(b"ssid:HomeNet-5G;x").decode().rstrip("="), b"", [],
     "ssid", "query:s", "base64"),
]


@pytest.mark.parametrize(("url", "body", "headers", "data_type", "where", "transform"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_finds_value(matcher: ValueMatcher, url: str, body: bytes,
                     headers: list[tuple[str, str]], data_type: str, where: str,
                     transform: str) -> None:
    found = {(m.where, m.transform) for m in hits(matcher, request(url, body, headers), data_type)}
    assert (where, transform) in found, found


DECOYS = [
    ("imei inside a 20-digit number", f"https://a.example/t?n=12345{IMEI}", b""),
    ("imei followed by digits", "https://a.example/t", json.dumps({"n": IMEI + "7"}).encode()),
    ("other uuid", "https://a.example/t?gaid=60e5d787-7b10-4341-8289-a784280e7f1e", b""),
    ("android id inside longer hex", f"https://a.example/t?h=ab{AID}cd", b""),
    ("other 15-digit number", "https://a.example/t?imei=356938035643808", b""),
    ("md5 of another imei", "https://a.example/t?h=" + md5("356938035643808"), b""),
    ("only two packages", "https://a.example/t",
     json.dumps(["com.tencent.mm", "com.sina.weibo", "com.tencent.mmx"]).encode()),
    ("nearby coordinates", "https://a.example/t",
     json.dumps({"lat": 39.9187, "lng": 116.3875}).encode()),
    ("lat without lon", "https://a.example/t", json.dumps({"lat": 39.908722}).encode()),
    ("lat and lon too far apart", "https://a.example/t",
     (f'{{"lat": {LAT}, "pad": "{"x" * 80}", "lng": {LON}}}').encode()),
    ("negative of the latitude", "https://a.example/t?loc=-39.9087,116.3975", b""),
    ("short fragment of the aaid", "https://a.example/t?x=60e5d787", b""),
]


@pytest.mark.parametrize(("url", "body"), [d[1:] for d in DECOYS], ids=[d[0] for d in DECOYS])
def test_decoy_does_not_match(matcher: ValueMatcher, url: str, body: bytes) -> None:
    assert hits(matcher, request(url, body)) == []


@pytest.mark.parametrize("rendering", [
    '{"lat": 39.9087, "lng": 116.3975}',
    '{"loc": "116.397499,39.908722"}',
    '{"lat": "39.91", "lon": "116.40"}',
    "lat=39.90872&lon=116.39750",
])
def test_location_pair(matcher: ValueMatcher, rendering: str) -> None:
    found = hits(matcher, request(body=rendering.encode()), "location")
    assert found and all(m.value == f"{LAT},{LON}" for m in found)
    if "116.397499,39" in rendering:
        assert any(m.transform.endswith(">lon-lat") for m in found)


def test_installed_packages_need_three(matcher: ValueMatcher) -> None:
    body = json.dumps({"apps": ["com.tencent.mm", "com.sina.weibo",
                                "com.eg.android.AlipayGphone"]}).encode()
    [found] = hits(matcher, request(body=body), "installed_packages")
    assert found.value == "com.eg.android.AlipayGphone,com.sina.weibo,com.tencent.mm"


def test_match_json_shape_and_recipient() -> None:
    matcher = ValueMatcher({"imei": [IMEI]})
    [found] = matcher.scan(request(f"https://alog.umeng.com/app_logs?imei={IMEI}", index=7))
    assert found.to_json() == {
        "flow": 7, "data_type": "imei", "value": IMEI,
        "url": f"https://alog.umeng.com/app_logs?imei={IMEI}", "where": "query:imei",
        "transform": "plain", "host": "alog.umeng.com", "recipient": "Umeng Analytics"}


def test_unknown_key_matches_as_plain_string() -> None:
    matcher = ValueMatcher({"favourite_colour": ["ultramarine"]})
    [found] = matcher.scan(request("https://a.example/t?c=ultramarine"))
    assert found.data_type == "favourite_colour"


def test_short_values_are_not_matched_plainly() -> None:
    matcher = ValueMatcher({"pin": ["4711"]})
    assert matcher.scan(request("https://a.example/t?p=4711")) == []
    assert matcher.scan(request("https://a.example/t?p=" + md5("4711")))  # digests still count


@pytest.mark.parametrize("values", [
    {"location": [[39.9]]}, {"location": [["39.9", "116.4"]]}, {"location": [[91.0, 0.0]]},
    {"imei": IMEI}, {"imei": [{"v": 1}]},
])
def test_bad_values_are_input_errors(values: dict[str, object]) -> None:
    with pytest.raises(InputError, match="values"):
        ValueMatcher(values)  # type: ignore[arg-type]


def test_websocket_and_binary_protobuf() -> None:
    matcher = ValueMatcher({"aaid": [AAID], "imei": [IMEI]})
    raw = AAID.encode()
    proto = bytes([0x0A, 3]) + b"abc" + bytes([0x12, len(raw) + 2, 0x1A, len(raw)]) + raw
    digest = hashlib.sha256(IMEI.encode()).digest()
    proto += bytes([0x22, len(digest)]) + digest
    found = {(m.data_type, m.where, m.transform)
             for m in matcher.scan(request(body=proto, websocket=[f"hello {AAID}".encode()]))}
    assert ("aaid", "body.protobuf:2.3", "plain") in found
    assert ("imei", "body.protobuf:4", "sha256-raw") in found
    assert ("aaid", "websocket[0]", "plain") in found


def test_lone_surrogates_in_values_and_requests_do_not_crash() -> None:
    # JSON "\ud800" escapes reach Python as lone surrogates, in hook values and flow URLs.
    matcher = ValueMatcher({"imei": [IMEI], "device_name": ["phone\ud800name"]})
    url = f"https://alog.umeng.com/a?x=\ud800&imei={IMEI}&n=phone\ud800name"
    found = {(m.data_type, m.where) for m in matcher.scan(request(url))}
    assert found == {("imei", "query:imei"), ("device_name", "query:n")}
