"""Table-driven from real tracker traffic (tweaselORG adapterExamples.json, CC0): put each real
identifier under its real key, in the request part where it was observed, and require a hit of
the right type at the right place; a different value must give none."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from traffic_helpers import request

from harness.traffic.matcher import ValueMatcher

IDENTIFIER_TYPES = {"idfa": "aaid", "hashedidfa": "aaid_hash", "idfv": "android_id",
                    "otheridentifiers": "other_id"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.*-]+")


def _cases(shared_data: Path) -> list[tuple[str, str, str, str, str]]:
    """(endpoint, data type, location, key path, value) for identifier fields."""
    examples = json.loads((shared_data / "tweasel-adapter-examples" / "adapterExamples.json")
                          .read_text())
    cases = []
    for endpoint, fields in examples.items():
        for key, observed in fields.items():
            kind, location, path = key.split("/", 2)
            if kind not in IDENTIFIER_TYPES or not _PLAIN_PATH.fullmatch(path):
                continue
            if location in ("query", "header", "cookie") and ("." in path or "*" in path):
                continue
            for value in observed[:2]:
                if isinstance(value, str) and len(value) >= 8 and len(set(value) - set("0-")) > 1:
                    cases.append((endpoint, IDENTIFIER_TYPES[kind], location, path, value))
    return cases


def _nest(path: str, value: str) -> tuple[Any, str]:
    """A JSON document holding ``value`` at dotted ``path`` ('*' = array item) and its where."""
    node: Any = value
    spots = []
    for part in reversed(path.split(".")):
        node = [node] if part == "*" else {part: node}
    for part in path.split("."):
        if part == "*":
            spots.append("[0]")
        elif _IDENT.fullmatch(part):
            spots.append(f".{part}")
        else:
            spots.append(f"[{json.dumps(part)}]")
    return node, "body.json:$" + "".join(spots)


def _request(location: str, path: str, value: str) -> tuple[Any, str]:
    base = "https://tracker.example/collect"
    if location == "query":
        return request(f"{base}?{urlencode({'v': '1', path: value})}"), f"query:{path}"
    if location == "header":
        return request(base, headers=[(path, value)]), f"header:{path}"
    if location == "cookie":
        return request(base, headers=[("Cookie", f"a=1; {path}={value}")]), f"cookie:{path}"
    document, where = _nest(path, value)
    body = json.dumps({"sdk": "x", **document} if isinstance(document, dict) else document)
    return request(base, body.encode(), [("Content-Type", "application/json")]), where


def _other(value: str) -> str:
    """The same shape, a different identifier."""
    last = value[-1]
    replacement = "7" if last != "7" else "3"
    return value[:-1] + (replacement.upper() if last.isupper() else replacement)


@pytest.mark.shared_data
def test_real_identifiers_under_real_keys(shared_data: Path) -> None:
    cases = _cases(shared_data)
    assert len(cases) > 40, "adapterExamples.json changed shape"
    failures = []
    for endpoint, data_type, location, path, value in cases:
        exchange, where = _request(location, path, value)
        found = {(m.data_type, m.where) for m in ValueMatcher({data_type: [value]}).scan(exchange)}
        if (data_type, where) not in found:
            failures.append((endpoint, location, path, value, found))
        decoy = ValueMatcher({data_type: [_other(value)]}).scan(exchange)
        if decoy:
            failures.append((endpoint, "decoy", path, _other(value), decoy))
    assert not failures, failures[:5]


@pytest.mark.shared_data
def test_real_aaid_in_query_and_hashed(shared_data: Path) -> None:
    examples = json.loads((shared_data / "tweasel-adapter-examples" / "adapterExamples.json")
                          .read_text())
    aaid = examples["singular-net/api-v1"]["idfa/query/aifa"][0]
    import hashlib

    matcher = ValueMatcher({"aaid": [aaid]})
    exchange = request("https://sdk-api-v1.singular.net/api/v1/start?"
                       + urlencode({"aifa": aaid, "h": hashlib.md5(aaid.encode()).hexdigest()}))
    found = {(m.where, m.transform, m.recipient) for m in matcher.scan(exchange)}
    assert found == {("query:aifa", "plain", "Singular"), ("query:h", "md5-hex-lower", "Singular")}
