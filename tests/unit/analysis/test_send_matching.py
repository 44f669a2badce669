from __future__ import annotations

import base64
import gzip
import hashlib
from urllib.parse import quote

import pytest

from harness.analysis.sendmatch import match_flow
from harness.analysis.values import is_searchable, scalar_values
from harness.events import Event

MAC = "3c:5a:b4:01:02:03"
IMEI = "866123045678912"


def _flow(url: str = "https://h.test/", headers: list[list[str]] | None = None,
          body: bytes = b"") -> Event:
    return Event(type="flow.http", t=1.0, seq=9, data={
        "id": "f1", "url": url, "host": "h.test", "request_headers": headers or [],
        "request_body_b64": base64.b64encode(body).decode()})


@pytest.mark.parametrize(
    ("flow", "transform", "where"),
    [
        (_flow(url=f"https://h.test/?m={MAC}"), "plain", "url"),
        (_flow(url=f"https://h.test/?m={quote(MAC, safe='')}"), "url-encoded", "url"),
        (_flow(url="https://h.test/?m=3c%3a5a%3ab4%3a01%3a02%3a03"), "url-encoded", "url"),
        (_flow(body=b"mac=" + quote(MAC, safe="").encode()), "url-encoded", "body"),
        (_flow(headers=[["X-Id", base64.b64encode(MAC.encode()).decode()]]), "base64",
         "header:x-id"),
        (_flow(body=base64.urlsafe_b64encode(MAC.encode()).rstrip(b"=")), "base64", "body"),
        (_flow(body=hashlib.md5(MAC.encode()).hexdigest().encode()), "md5", "body"),
        (_flow(body=hashlib.sha1(MAC.encode()).hexdigest().upper().encode()), "sha1", "body"),
        (_flow(url="https://h.test/" + hashlib.sha256(MAC.encode()).hexdigest()), "sha256",
         "url"),
        (_flow(headers=[["Content-Encoding", "gzip"]],
               body=gzip.compress(f'{{"mac":"{MAC}"}}'.encode())), "plain", "body"),
    ],
)
def test_value_is_found_in_every_supported_form(flow: Event, transform: str, where: str) -> None:
    [match] = match_flow(flow, {"mac": [MAC]})
    assert (match.data_type, match.value, match.transform, match.where) == (
        "mac", MAC, transform, where)
    assert match.flow_id == "f1"
    assert match.host == "h.test"


def test_absent_value_gives_no_match() -> None:
    flow = _flow(url="https://h.test/?imei=866123045678913", body=b"nothing here")
    assert match_flow(flow, {"imei": [IMEI]}) == []


def test_excerpt_shows_the_context_of_the_match() -> None:
    [match] = match_flow(_flow(body=b"a=1&imei=" + IMEI.encode() + b"&b=2"), {"imei": [IMEI]})
    assert match.excerpt == f"a=1&imei={IMEI}&b=2"


def test_scalar_values_flattens_json_and_bytes() -> None:
    assert scalar_values({"lat": 39.9, "acc": [1.5, None]}) == ["39.9", "1.5"]
    assert scalar_values([60, 90, 180, 1, 2, 3]) == ["3c:5a:b4:01:02:03"]
    assert scalar_values(None) == [] and scalar_values(True) == []


@pytest.mark.parametrize("value", ["02:00:00:00:00:00", "unknown", "12345", "000000000000000"])
def test_generic_or_short_values_are_not_searched(value: str) -> None:
    assert not is_searchable(value)


def test_identifiers_are_searched() -> None:
    assert is_searchable(IMEI) and is_searchable(MAC)
