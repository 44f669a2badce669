"""Decoders: content encodings, containers, limits, and fuzzing for crashes."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from traffic_helpers import request

from harness.traffic import compression, protobuf
from harness.traffic.decoders import OUTPUT_CAP, Budget, Decoder
from harness.traffic.matcher import ValueMatcher

SECRET = "60e5d787-7b10-4341-8289-a784280e7f1f"
PAYLOAD = json.dumps({"gaid": SECRET}).encode()


@pytest.mark.parametrize(("encoding", "data"), [
    ("gzip", gzip.compress(PAYLOAD)),
    ("deflate", zlib.compress(PAYLOAD)),
    ("deflate", zlib.compress(PAYLOAD)[2:-4]),  # raw deflate, as some servers send it
    ("br", brotli.compress(PAYLOAD)),
    ("zstd", zstandard.ZstdCompressor().compress(PAYLOAD)),
    ("gzip, br", brotli.compress(gzip.compress(PAYLOAD))),
])
def test_content_encodings(encoding: str, data: bytes) -> None:
    matcher = ValueMatcher({"aaid": [SECRET]})
    found = matcher.scan(request(body=data, headers=[("Content-Encoding", encoding)]))
    expected = ">".join(t.strip() for t in reversed(encoding.split(",")))
    assert [(m.where, m.transform) for m in found] == [("body.json:$.gaid", expected)]


def test_wrong_content_encoding_header_searches_body_as_sent() -> None:
    matcher = ValueMatcher({"aaid": [SECRET]})
    found = matcher.scan(request(body=PAYLOAD, headers=[("Content-Encoding", "gzip")]))
    assert [m.where for m in found] == ["body.json:$.gaid"]
    assert any("did not decode" in note for note in matcher.notes)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_bomb_stays_within_cap(encoding: str) -> None:
    zeros = b"\0" * (64 << 20)
    packed = {"gzip": gzip.compress, "br": brotli.compress,
              "zstd": zstandard.ZstdCompressor().compress}[encoding](zeros)
    out, truncated = compression.decompress(packed, encoding, OUTPUT_CAP)
    assert truncated and len(out) == OUTPUT_CAP


def test_bomb_in_request_is_noted_not_exploded() -> None:
    bomb = gzip.compress(b"A" * (40 << 20))
    matcher = ValueMatcher({"aaid": [SECRET]})
    assert matcher.scan(request(body=bomb, headers=[("Content-Encoding", "gzip")])) == []
    assert any("capped" in note for note in matcher.notes)


def test_budget_limits_total_decoded_output() -> None:
    decoder = Decoder(Budget(cap=1000))
    body = json.dumps({f"k{i}": gzip.compress(b"x" * 400).hex() for i in range(10)}).encode()
    list(decoder.exchange(request(body=body)))
    assert decoder.budget.left >= 0


def test_depth_limit_stops_recursion() -> None:
    import base64

    text = SECRET
    for _ in range(10):
        text = base64.b64encode(text.encode()).decode()
    fragments = list(Decoder(max_depth=6).value(text, "query:x", (), 1))
    assert max(len(f.chain) for f in fragments) <= 6
    assert SECRET not in {f.text for f in fragments}


def test_multipart_fields() -> None:
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\n"
            b"Content-Type: application/json\r\n\r\n" + PAYLOAD + b"\r\n--XyZ--\r\n")
    matcher = ValueMatcher({"aaid": [SECRET]})
    found = matcher.scan(request(body=body, headers=[
        ("Content-Type", "multipart/form-data; boundary=XyZ")]))
    assert [m.where for m in found] == ["body.multipart:meta>$.gaid"]


def test_protobuf_leaves() -> None:
    inner = bytes([0x0A, 5]) + b"hello"
    message = bytes([0x08, 0x96, 0x01, 0x12, len(inner)]) + inner
    assert list(protobuf.leaves(message)) == [("1", "150"), ("2.1", "hello")]
    with pytest.raises(protobuf.NotProtobuf):
        protobuf.parse(b"\x0a\x10short")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_blob_never_crashes(data: bytes) -> None:
    decoder = Decoder(Budget(cap=1 << 20))
    for fragment in decoder.blob(data, "body", (), 1):
        assert isinstance(fragment.text, str)
    assert decoder.budget.left >= 0


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=512))
def test_fuzz_value_never_crashes(text: str) -> None:
    for fragment in Decoder().value(text, "query:q", (), 1):
        assert len(fragment.chain) <= 6


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=1024), st.sampled_from(["gzip", "deflate", "br", "zstd", "bogus"]))
def test_fuzz_decompress_fails_cleanly(data: bytes, encoding: str) -> None:
    try:
        out, _ = compression.decompress(data, encoding, 4096)
    except compression.DecodeError:
        return
    assert len(out) <= 4096


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20))
def test_fuzz_json_bodies_find_planted_value(document: object) -> None:
    body = json.dumps({"doc": document, "id": SECRET}).encode()
    found = ValueMatcher({"aaid": [SECRET]}).scan(request(body=body))
    assert ("body.json:$.id", "plain") in {(m.where, m.transform) for m in found}


_leaf = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                  st.text(alphabet="abcdefXYZ0123456789-_:=&%/+ ", max_size=24),
                  st.sampled_from([SECRET, SECRET.upper(), f"id={SECRET}", "39.9087,116.3975",
                                   "356938035643809", "com.tencent.mm"]))


@settings(max_examples=120, deadline=None)
@given(st.recursive(_leaf, lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.sampled_from(["a", "gaid", "com.sina.weibo", "x y"]),
                                      kids, max_size=4), max_leaves=16))
def test_fast_path_finds_what_the_full_walk_finds(document: object) -> None:
    values = {"aaid": [SECRET], "imei": ["356938035643809"], "location": [[39.9087, 116.3975]],
              "installed_packages": ["com.tencent.mm", "com.sina.weibo", "com.taobao.taobao"]}
    exchange = request(body=json.dumps({"d": document}).encode())
    fast = ValueMatcher(values).scan(exchange)
    full = ValueMatcher(values, fast_path=False).scan(exchange)
    assert sorted(m.to_json().items().__repr__() for m in fast) == \
        sorted(m.to_json().items().__repr__() for m in full)


def test_large_body_is_searched_in_overlapping_chunks() -> None:
    from harness.traffic.decoders import RAW_CHUNK

    # larger than the parse cap, so searched raw; the value straddles the first chunk edge
    body = b"x" * (RAW_CHUNK - 10) + b" " + SECRET.encode() + b" " + b"y" * (OUTPUT_CAP + 100)
    matcher = ValueMatcher({"aaid": [SECRET]})
    assert [(m.where, m.transform) for m in matcher.scan(request(body=body))] == [
        ("body", "plain")]
