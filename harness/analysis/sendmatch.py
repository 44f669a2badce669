"""A minimal value matcher: which collected values appear in which request, in which form.

Forms searched: plain, URL-encoded (percent and ``+``), base64 (standard and URL-safe, with or
without padding) and MD5/SHA-1/SHA-256 hex digests (lower and upper case). The request is
searched in its URL, header values and body (gzip/deflate bodies are decompressed first).

This is the analysis step's own small matcher: ``harness.traffic.matcher`` (a fuller one with
nested encodings) was not available when the analysis was written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from harness.events import FLOW_HTTP, Event

EXCERPT_CHARS = 60
"""Characters either side of a match kept as the request excerpt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMatch:
    """One collected value found in one request."""

    flow_event: Event
    data_type: str
    value: str
    where: str
    """``url``, ``header:<name>`` or ``body``."""
    transform: str
    """``plain``, ``url-encoded``, ``base64``, ``md5``, ``sha1``, ``sha256``."""
    excerpt: str

    @property
    def flow_id(self) -> str:
        return str(self.flow_event.data.get("id") or f"seq-{self.flow_event.seq}")

    @property
    def host(self) -> str:
        return str(self.flow_event.data.get("host") or "")

    @property
    def url(self) -> str:
        return str(self.flow_event.data.get("url") or "")


def encodings(value: str) -> list[tuple[str, str]]:
    """``(transform, needle)`` pairs for one value, most specific form first."""
    raw = value.encode("utf-8")
    forms: list[tuple[str, str]] = [("plain", value)]
    for encoded in (quote(value, safe=""), quote_plus(value), quote(value)):
        forms.append(("url-encoded", encoded))
    for coder in (base64.b64encode, base64.urlsafe_b64encode):
        b64 = coder(raw).decode("ascii")
        forms.append(("base64", b64))
        forms.append(("base64", b64.rstrip("=")))
    for name in ("md5", "sha1", "sha256"):
        digest = hashlib.new(name, raw).hexdigest()
        forms.append((name, digest))
        forms.append((name, digest.upper()))
    unique: list[tuple[str, str]] = []
    for form in forms:
        if form[1] and form not in unique and not any(n == form[1] for _, n in unique):
            unique.append(form)
    return unique


def request_parts(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(where, text)`` for the URL, every header value and the decoded body."""
    parts: list[tuple[str, str]] = [("url", str(data.get("url") or ""))]
    encoding = ""
    for pair in data.get("request_headers") or []:
        if isinstance(pair, Sequence) and len(pair) == 2:
            name, value = str(pair[0]), str(pair[1])
            parts.append((f"header:{name.lower()}", value))
            if name.lower() == "content-encoding":
                encoding = value.strip().lower()
    body = _body_bytes(data, encoding)
    if body:
        parts.append(("body", body.decode("utf-8", errors="replace")))
    return parts


def _body_bytes(data: Mapping[str, Any], encoding: str) -> bytes:
    try:
        body = base64.b64decode(str(data.get("request_body_b64") or ""), validate=False)
    except (binascii.Error, ValueError):
        return b""
    if encoding in ("gzip", "deflate"):
        try:
            return zlib.decompress(body, 47 if encoding == "gzip" else 15)
        except zlib.error:
            try:
                return zlib.decompress(body, -15)
            except zlib.error:
                return body
    return body


def _excerpt(text: str, at: int, length: int) -> str:
    start, end = max(0, at - EXCERPT_CHARS), min(len(text), at + length + EXCERPT_CHARS)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def match_flow(flow_event: Event, values: Mapping[str, Sequence[str]]) -> list[SendMatch]:
    """Every (data type, value) of ``values`` found in the request of ``flow_event``."""
    parts = request_parts(flow_event.data)
    found: list[SendMatch] = []
    for data_type, type_values in values.items():
        for value in type_values:
            match = _find(parts, value)
            if match is not None:
                where, transform, excerpt = match
                found.append(SendMatch(flow_event=flow_event, data_type=data_type, value=value,
                                       where=where, transform=transform, excerpt=excerpt))
    return found


def _find(parts: Sequence[tuple[str, str]], value: str) -> tuple[str, str, str] | None:
    for transform, needle in encodings(value):
        for where, text in parts:
            at = text.find(needle)
            if at >= 0:
                return where, transform, _excerpt(text, at, len(needle))
    # Encoded with a different escaping than ours (e.g. %3a vs %3A): compare decoded text.
    for where, text in parts:
        decoded = unquote_plus(text)
        if decoded != text and (at := decoded.find(value)) >= 0:
            return where, "url-encoded", _excerpt(decoded, at, len(value))
    return None


def match_flows(events: Iterable[Event], values: Mapping[str, Sequence[str]]) -> list[SendMatch]:
    """Scan every ``flow.http`` event; results in timeline order."""
    matches: list[SendMatch] = []
    for event in events:
        if event.type == FLOW_HTTP:
            matches.extend(match_flow(event, values))
    return matches
