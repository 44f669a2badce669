"""JSON paths for field locations (``$.device.imei``, ``$.events[0]["x y"]``)."""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def _with_paths(found: list[tuple[tuple[str | int, ...], str]]) -> list[tuple[str, str]]:
    """Each (steps, text) as (JSON path, text): paths are built only for the leaves kept."""
    result = []
    for steps, text in found:
        path = "$"
        for step in steps:
            path = f"{path}[{step}]" if isinstance(step, int) else child_path(path, step)
        result.append((path, text))
    return result


def leaves_holding(document: Any, only: frozenset[str]) -> list[tuple[str, str]]:
    """(JSON path, text) of every key, string or number of ``document`` that contains one of
    ``only``. A plain recursive walk: several times cheaper than the generator walk."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    parts: list[str | int] = []

    def check(text: str) -> None:
        if any(h in text for h in only):
            found.append((tuple(parts), text))

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                parts.append(str(key))
                check(str(key))
                visit(child)
                parts.pop()
        elif isinstance(node, list):
            for i, child in enumerate(node):
                parts.append(i)
                visit(child)
                parts.pop()
        elif isinstance(node, str):
            check(node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            check(repr(node))

    visit(document)
    return _with_paths(found)


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# Members that hold no hit are only parsed to check them and find their end: this decoder
# skips converting floats (a float conversion never fails on a JSON number, so it rejects
# exactly what _DECODER rejects; ints are still converted, as json.loads may reject very long
# ones) and is about 20% faster on telemetry full of floats.
_CHECKER = json.JSONDecoder(parse_float=len)
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip_ws(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]


def leaves_at(text: str, only: frozenset[str]) -> list[tuple[str, str]] | None:
    """``leaves_holding(json.loads(text), only)`` without walking what cannot hold a hit: every
    member is parsed by the C decoder, but only members whose source text contains one of
    ``only`` are taken apart in Python. None when ``text`` is not one JSON array or object.

    Exact when ``text`` has no backslash (the caller's fast path: no escapes, so a decoded
    leaf holds a needle only if its source text does); with one, it falls back to the full walk.
    With duplicate keys every occurrence is searched (``json.loads`` keeps the last)."""
    if "\\" in text:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return leaves_holding(document, only) if isinstance(document, dict | list) else None
    spans = sorted({(i, i + len(h)) for h in only if h for i in _occurrences(text, h)})
    starts = [s for s, _ in spans]
    found: list[tuple[tuple[str | int, ...], str]] = []

    def holds(start: int, end: int) -> bool:
        """Whether a needle occurrence lies within ``text[start:end]``."""
        i = bisect_left(starts, start)
        while i < len(spans) and spans[i][0] < end:
            if spans[i][1] <= end:
                return True
            i += 1
        return False

    def check(parts: tuple[str | int, ...], leaf: str) -> None:
        if any(h in leaf for h in only):
            found.append((parts, leaf))

    def value(index: int, parts: tuple[str | int, ...]) -> int:
        """Parse the value at ``index`` (C decoder), take it apart if it holds a hit; its end."""
        node, end = _CHECKER.raw_decode(text, index)
        if not holds(index, end):
            return int(end)
        if isinstance(node, int):  # a float was counted, not converted: convert it now
            node, end = _DECODER.raw_decode(text, index)
        if isinstance(node, dict | list):
            return members(index, parts)  # its members are parsed again, one by one
        if isinstance(node, str):
            check(parts, node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            check(parts, repr(node))
        return int(end)

    def members(index: int, parts: tuple[str | int, ...]) -> int:
        """Walk the array or object at ``index`` strictly (as json.loads would); its end."""
        close = "}" if text[index] == "{" else "]"
        index = _skip_ws(text, index + 1)
        if text[index] == close:
            return index + 1
        position = 0
        while True:
            if close == "}":
                if text[index] != '"':
                    raise ValueError("expected a key")
                key, after = _scanstring(text, index + 1)
                if holds(index, after):
                    check((*parts, key), key)
                index = _skip_ws(text, after)
                if text[index] != ":":
                    raise ValueError("expected a colon")
                index = value(_skip_ws(text, index + 1), (*parts, key))
            else:
                index = value(index, (*parts, position))
                position += 1
            index = _skip_ws(text, index)
            if text[index] == close:
                return index + 1
            if text[index] != ",":
                raise ValueError("expected a comma")
            index = _skip_ws(text, index + 1)

    try:
        start = _skip_ws(text, 0)
        if text[start:start + 1] not in ("{", "["):
            return None
        # the root is walked member by member, so the document is parsed about once
        if _skip_ws(text, members(start, ())) != len(text):
            return None
    except (ValueError, RecursionError, IndexError):
        return None
    return _with_paths(found)


def _occurrences(text: str, needle: str) -> list[int]:
    found = []
    index = text.find(needle)
    while index >= 0:
        found.append(index)
        index = text.find(needle, index + 1)
    return found
