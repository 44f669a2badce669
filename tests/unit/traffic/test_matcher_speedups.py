"""The matcher's shortcuts report exactly what the full walk reports: URL and headers taken apart
only along the parts that can hold a hit, memoised hits of short texts, repeated leaks."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from traffic_helpers import request

from harness.traffic import matcher as matcher_module
from harness.traffic.decoders import Decoder, _opaque
from harness.traffic.matcher import ValueMatcher

IMEI = "356938035643809"
AAID = "60e5d787-7b10-4341-8289-a784280e7f1f"
VALUES: dict[str, list[Any]] = {"imei": [IMEI], "aaid": [AAID], "location": [[39.9087, 116.3975]],
          "installed_packages": ["com.tencent.mm", "com.sina.weibo", "com.taobao.taobao"]}


def _rows(found: list[matcher_module.Match]) -> list[str]:
    return sorted(json.dumps(m.to_json(), sort_keys=True) for m in found)


# Parts of a URL or header: plain leaks, encoded leaks (base64, hex, %-escapes, forms, JSON),
# decodable decoys holding nothing (base64 alphabet) and opaque filler.
_PART = st.sampled_from([
    IMEI, AAID.upper(), "39.9087", "116.3975", "com.tencent.mm", "com.sina.weibo",
    b"com.taobao.taobao".hex(), base64.b64encode(f"imei={IMEI}".encode()).decode(),
    quote(f"id={AAID}", safe=""), json.dumps({"i": IMEI}), "application/json", "okhttp/4.1",
])


@settings(max_examples=300, deadline=None)
@example([], ["39.9087", "116.3975"], [], [])  # a pair across fields: the query as a whole
@example(["39.9087", "116.3975"], [], [], [])  # ... and the path as a whole
@example(["com.tencent.mm"], ["com.sina.weibo"], [b"com.taobao.taobao".hex()], [])
@given(st.lists(_PART, max_size=3), st.lists(_PART, max_size=4), st.lists(_PART, max_size=3),
       st.lists(_PART, max_size=2))
def test_head_shortcut_finds_what_the_full_walk_finds(segments: list[str], query: list[str],
                                                      headers: list[str],
                                                      cookies: list[str]) -> None:
    path = "/".join(quote(s, safe="=") for s in segments)
    params = "&".join(f"k{i}={quote(v, safe='')}" for i, v in enumerate(query))
    head = [(f"X-H{i}", v) for i, v in enumerate(headers)]
    if cookies:
        head.append(("Cookie", "; ".join(f"c{i}={v}" for i, v in enumerate(cookies))))
    exchange = request(f"https://t.example/{path}?{params}", headers=head)
    fast = ValueMatcher(VALUES).scan(exchange)
    full = ValueMatcher(VALUES, fast_path=False).scan(exchange)
    assert _rows(fast) == _rows(full)


def test_head_shortcut_still_takes_apart_decodable_parts() -> None:
    """A header holding no needle text is still decoded when it could hide one: here short
    hex (too short for the layer hint) of the third package name."""
    hidden = b"com.taobao.taobao".hex()
    exchange = request("https://t.example/c?a=com.tencent.mm&b=com.sina.weibo",
                       headers=[("X-P", hidden)])
    found = ValueMatcher(VALUES).scan(exchange)
    assert [(m.data_type, m.value, m.where) for m in found] == [
        ("installed_packages", "com.sina.weibo,com.taobao.taobao,com.tencent.mm", "header:X-P")]


def test_opaque_parts_are_those_the_decoder_leaves_whole() -> None:
    assert _opaque("okhttp/4.12.0") and _opaque("gzip") and _opaque("Pixel 7 Pro")
    assert _opaque("a=1&b=2")  # under 8 characters: never decoded
    assert not _opaque("application/json")  # base64 alphabet: decoded, as the full walk does
    assert not _opaque("a=1&bb=22") and not _opaque('{"a": 12}') and not _opaque("x%20y%20z")
    assert not _opaque(IMEI.encode().hex())


def test_repeated_leaks_are_reported_once_per_field_and_transform() -> None:
    """Dedupe key: (data type, value, where, transform). The same field twice in a form is
    one match; every JSON array element is its own field."""
    body = json.dumps({"events": [{"imei": IMEI}] * 40 + [{"imei": IMEI.upper()}],
                       "form": f"imei={IMEI}&imei={IMEI}&b={AAID}"}).encode()
    exchange = request(f"https://t.example/c?a={IMEI}&a={IMEI}", body=body)
    found = ValueMatcher(VALUES).scan(exchange)
    rows = [(m.data_type, m.where, m.transform) for m in found]
    assert len(rows) == len(set(rows))
    expected = {("imei", f"body.json:$.events[{i}].imei", "plain") for i in range(41)}
    expected |= {("imei", "body.json:$.form>imei", "form"), ("aaid", "body.json:$.form>b", "form"),
                 ("imei", "query:a", "plain")}
    assert set(rows) == expected
    assert _rows(found) == _rows(ValueMatcher(VALUES, fast_path=False).scan(exchange))


def test_memoised_short_texts_are_bounded_and_give_the_same_hits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "SHORT_TEXTS_KEPT", 8)
    matcher = ValueMatcher(VALUES)
    first = [(m.where, m.transform) for m in
             matcher.scan(request(f"https://t.example/c?ifa={AAID}"))]
    for i in range(50):  # distinct short texts: the memo is emptied, never grows past 8
        matcher.scan(request(f"https://t.example/c?n={i}", headers=[("X-N", f"v{i}")]))
        assert len(matcher._short) <= 8
    again = [(m.where, m.transform) for m in
             matcher.scan(request(f"https://t.example/c?ifa={AAID}"))]
    assert first == again == [("query:ifa", "plain")]


def test_url_with_a_tab_is_taken_apart_as_urlsplit_sees_it() -> None:
    """urlsplit drops tabs: the MAC below is whole only in the split URL, not in the raw one."""
    values = {**VALUES, "mac": ["02:00:00:4a:5b:6c"]}
    exchange = request(f"https://t.example/c?ifa={AAID}&m=02:00:00:4a:\t5b:6c")
    rows = {(m.data_type, m.where) for m in ValueMatcher(values).scan(exchange)}
    assert rows == {("aaid", "query:ifa"), ("mac", "query:m")}


def test_header_names_do_not_defeat_the_head_shortcut() -> None:
    """"Content-Encoding" is a mixed-case token of 16 characters, as base64 would be; names
    are never searched, so they must not make a clean head be taken apart."""
    seen: list[str] = []

    def probe(text: str) -> set[str]:
        seen.append(text)
        return set()

    exchange = request("https://t.example/c?v=2", headers=[
        ("Content-Encoding", "gzip"), ("Accept-Language", "en-US"), ("User-Agent", "okhttp/4.1")])
    assert list(Decoder(probe=probe).exchange(exchange)) == []
    assert seen == ["https://t.example/c?v=2\ngzip\nen-US\nokhttp/4.1"]
    # without the shortcut every part is a fragment
    assert [f.where for f in Decoder().exchange(exchange)] == [
        "path", "path", "query", "query:v", "header:Content-Encoding", "header:Accept-Language",
        "header:User-Agent"]
