"""The matcher's fast scans against the plain definitions they replace (hypothesis): the JSON
walk around hits (``leaves_at``) against ``json.loads`` + ``leaves_holding``; the layer hint
against its regex definition (it may say yes more often, never less); the byte-level automaton
against ``str.find`` on non-ASCII text (character offsets)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.traffic.automaton import NeedleIndex
from harness.traffic.decoders import has_encoded_layers
from harness.traffic.jsonpaths import leaves_at, leaves_holding
from harness.traffic.variants import value_needles

IMEI = "866123045678912"
ONLY = frozenset({IMEI, "39.9087", "ab"})

_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_HINT = re.compile(r'%[0-9A-Fa-f]{2}|\\u[0-9a-fA-F]{4}|\\[/"]')
_HEX = frozenset("0123456789abcdefABCDEF")


def _hint_by_definition(text: str) -> bool:
    if _HINT.search(text):
        return True
    for token in _TOKEN.findall(text):
        if token != token.lower() and token != token.upper():
            return True
        if len(token) >= 40 and all(token[i] in "234567" for i in range(0, 40, 2)) \
                and _HEX.issuperset(token):
            return True
    return False


def _reference(text: str) -> list[tuple[str, str]] | None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return leaves_holding(document, ONLY) if isinstance(document, dict | list) else None


_leaf = st.sampled_from([IMEI, "x" + IMEI, "ab", "abc", "z", 39.9087, 1, True, None, ""])
_doc = st.recursive(_leaf, lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.sampled_from(["a", "ab", IMEI, "k y"]), kids, max_size=4),
                    max_leaves=20)


@given(_doc, st.sampled_from([None, 0, 2]))
def test_json_walk_equals_the_full_walk(document: Any, indent: int | None) -> None:
    text = json.dumps(document, indent=indent)
    assert leaves_at(text, ONLY) == _reference(text)


_TOKENS = ["{", "}", "[", "]", ",", ":", '"ab"', '"x"', "1", "39.9087", " ", "true", "null",
           f'"{IMEI}"', "-", "1e5", '"\\n"']


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=14))
def test_json_walk_rejects_what_json_rejects(tokens: list[str]) -> None:
    text = "".join(tokens)
    try:  # duplicate keys: every occurrence is searched by design, json.loads keeps one
        json.loads(text, object_pairs_hook=lambda p: _no_duplicates(p))
    except KeyError:
        return
    except ValueError:
        pass
    assert leaves_at(text, ONLY) == _reference(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise KeyError("duplicate key")
    return dict(pairs)


@settings(max_examples=500)
@given(st.text(alphabet="aAbB09fF+/_-.:\" %\\u{}é中234567gGx", max_size=80))
def test_layer_hint_never_says_no_where_the_definition_says_yes(text: str) -> None:
    if _hint_by_definition(text):
        assert has_encoded_layers(text)


def test_layer_hint_cases() -> None:
    ascii_hex = IMEI.encode().hex() * 2  # 60 hex digits, every other one 3
    assert has_encoded_layers(f'{{"d":"{ascii_hex}"}}')
    assert has_encoded_layers('{"d":"aGVsbG8gd29ybGQgaGVsbG8="}')  # base64
    assert has_encoded_layers("a=%7B%22x%22%7D")
    assert not has_encoded_layers('{"id":"9774d56d682e549c","ts":1764409600000,"m":"Pixel 7"}')
    assert not has_encoded_layers('{"sha1":"' + "a" * 40 + '"}')  # hex, but not of text


@given(st.text(alphabet="ab中é\"- ", max_size=30), st.text(alphabet="ab中é\"- ", max_size=30))
def test_offsets_are_characters_in_non_ascii_text(before: str, after: str) -> None:
    index = NeedleIndex(value_needles("imei", IMEI))
    text = f"{before} {IMEI} {after}"
    hits = [(start, end) for start, end, n in index.find(text) if n.text == IMEI]
    assert (len(before) + 1, len(before) + 1 + len(IMEI)) in hits
    assert all(text[s:e] == IMEI for s, e in hits)
