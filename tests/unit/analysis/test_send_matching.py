from __future__ import annotations

import base64
import gzip
import hashlib
from urllib.parse import quote

import pytest

from harness.analysis.sendmatch import match_flows
from harness.analysis.values import is_searchable, location_pair, scalar_values
from harness.events import Event

MAC = "3c:5a:b4:01:02:03"
IMEI = "866123045678912"


def _flow(url: str = "https://h.test/", headers: list[list[str]] | None = None,
          body: bytes = b"", seq: int = 9) -> Event:
    return Event(type="flow.http", t=1.0, seq=seq, data={
        "id": f"f{seq}", "method": "POST", "url": url, "host": "h.test",
        "request_headers": headers or [], "request_body_b64": base64.b64encode(body).decode()})


@pytest.mark.parametrize(
    ("flow", "transform", "where"),
    [
        (_flow(url=f"https://h.test/?i={IMEI}"), "plain", "query:i"),
        (_flow(body=b"imei=" + quote(IMEI + "&").encode()), "plain", "body"),
        (_flow(headers=[["X-Id", base64.b64encode(IMEI.encode()).decode()]]), "base64",
         "header:X-Id"),
        (_flow(body=hashlib.md5(IMEI.encode()).hexdigest().encode()), "md5-hex-lower", "body"),
        (_flow(body=hashlib.sha1(IMEI.encode()).hexdigest().upper().encode()),
         "sha1-hex-upper", "body"),
        (_flow(url="https://h.test/" + hashlib.sha256(IMEI.encode()).hexdigest()),
         "sha256-hex-lower", "path"),
        (_flow(headers=[["Content-Encoding", "gzip"], ["Content-Type", "application/json"]],
               body=gzip.compress(f'{{"imei":"{IMEI}"}}'.encode())), "gzip", "body.json:$.imei"),
    ],
)
def test_value_is_found_in_each_encoding(flow: Event, transform: str, where: str) -> None:
    scan = match_flows([flow], {"imei": [IMEI]})
    assert scan.matches, "value not found"
    match = scan.matches[0]
    assert (match.data_type, match.value, match.flow_id, match.host) == ("imei", IMEI, "f9",
                                                                         "h.test")
    assert match.transform.startswith(transform)
    assert match.where.startswith(where)


def test_absent_value_gives_no_match_and_other_events_are_ignored() -> None:
    flow = _flow(url="https://h.test/?imei=866123045678913", body=b"nothing here")
    other = Event(type="hook.call", t=0.5, seq=1, data={"ret": IMEI})
    assert match_flows([other, flow], {"imei": [IMEI]}).matches == []


def test_body_excerpt_is_kept_for_the_report() -> None:
    [match] = match_flows([_flow(body=b'{"a":1,"mac":"' + MAC.encode() + b'"}',
                                 headers=[["Content-Type", "application/json"]])],
                          {"mac": [MAC]}).matches[:1]
    assert match.excerpt == '{"a":1,"mac":"' + MAC + '"}'


def test_no_values_means_no_scan() -> None:
    assert match_flows([_flow()], {}).matches == []


def test_scalar_values_flattens_json_and_bytes() -> None:
    assert scalar_values({"ssid": "home-net", "acc": [1.5, None]}) == ["home-net", "1.5"]
    assert scalar_values([60, 90, 180, 1, 2, 3]) == ["3c:5a:b4:01:02:03"]
    assert scalar_values(None) == [] and scalar_values(True) == []


@pytest.mark.parametrize(
    ("ret", "pair"),
    [({"lat": 39.9, "lon": 116.4}, (39.9, 116.4)),
     ({"latitude": "39.9", "longitude": "116.4"}, (39.9, 116.4)),
     ([39.9, 116.4], (39.9, 116.4)), ({"lat": 99.0, "lon": 1.0}, None), ("x", None)],
)
def test_location_pairs(ret: object, pair: tuple[float, float] | None) -> None:
    assert location_pair(ret) == pair


@pytest.mark.parametrize("value", ["02:00:00:00:00:00", "unknown", "12345", "000000000000000"])
def test_generic_or_short_values_are_not_searched(value: str) -> None:
    assert not is_searchable(value)


def test_identifiers_are_searched() -> None:
    assert is_searchable(IMEI) and is_searchable(MAC)
