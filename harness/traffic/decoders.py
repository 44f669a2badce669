"""Turn one request into the texts the matcher searches, decoding layer after layer.

Each :class:`Fragment` carries ``where`` (section and field path, e.g. ``query:data>$.imei``)
and ``chain`` (the decoding steps that led to it, e.g. ``("base64", "json")``). Every decoder
draws its output from one per-request :class:`Budget` and recursion stops at ``max_depth``, so
a bomb or a huge body costs bounded memory and time. What was skipped is noted in
``Decoder.notes``: a silent gap in the search would look like a clean result.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from harness.traffic import compression, protobuf
from harness.traffic.exchange import HttpExchange
from harness.traffic.jsonpaths import child_path, leaves_at

OUTPUT_CAP = 16 << 20  # bytes of decoded output per request
MAX_DEPTH = 6
RAW_CHUNK = 1 << 20  # large raw texts are searched in chunks ...
CHUNK_OVERLAP = 1024  # ... overlapping by more than the longest needle

_B64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_FORM = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Signs of a layer that hides text from a plain search: %-escapes, JSON escapes (nested JSON,
# \u-escaped non-ASCII), ASCII hex of printable text.
_ENCODED_HINT = re.compile(r'%[0-9A-Fa-f]{2}|\\u[0-9a-fA-F]{4}|\\[/"]')
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")


# Character classes for the layer hint, one bytes.translate over the UTF-8 text each (C speed,
# several times faster than str.translate): a token is a run of [A-Za-z0-9+/_-] (``_TOKEN``'s
# class); other ASCII becomes a space; a non-ASCII byte is "x", inside a token but neither
# case nor hex (as str.translate left a non-ASCII character: a token only ever grows, so the
# hint can only say yes more often).
def _classes(token: str, upper: str, lower: str, hex_digit: str, other: str) -> bytes:
    table = bytearray(b"x" * 256)
    for code in range(128):
        ch = chr(code)
        if not (ch.isalnum() or ch in "+/_-"):
            table[code] = ord(" ")
        elif upper:
            table[code] = ord(upper if ch.isupper() else lower if ch.islower() else token)
        else:
            table[code] = ord(hex_digit if ch in _HEX_CHARS else other)
    return bytes(table)


_TOKEN_CLASSES = _classes("d", "U", "l", "", "")
_HEX_CLASSES = _classes("", "", "", "h", "t")
_HEX_RUN = b"h" * 40


def _mixed_case_token(data: bytes) -> bool:
    """A token of 16+ characters with both cases: base64 of anything mixes cases; hex, digits
    and UUIDs do not. Visits only the tokens holding an upper-case letter."""
    classes = data.translate(_TOKEN_CLASSES)
    pos = classes.find(b"U")
    while pos >= 0:
        start = classes.rfind(b" ", 0, pos) + 1
        end = classes.find(b" ", pos)
        end = len(classes) if end < 0 else end
        if end - start >= 16 and b"l" in classes[start:end]:
            return True
        pos = classes.find(b"U", end)
    return False


def _hex_of_text(data: bytes) -> bool:
    """A token of 40+ hex digits whose every other digit is 2-7: ASCII hex of printable text
    (every byte 0x20..0x7e). Visits only runs of 40 hex digits."""
    classes = data.translate(_HEX_CLASSES)
    pos = classes.find(_HEX_RUN)
    while pos >= 0:
        end = classes.find(b" ", pos)
        end = len(classes) if end < 0 else end
        # the token starts here and is hex throughout (a non-ASCII character ends it, too)
        starts = pos == 0 or classes[pos - 1] not in b"ht"
        if starts and not classes[pos:end].lstrip(b"h").startswith(b"t") \
                and not data[pos:pos + 40:2].strip(b"234567"):
            return True
        pos = classes.find(_HEX_RUN, end)
    return False


def has_encoded_layers(text: str) -> bool:
    """Whether ``text`` may hide a value behind an encoding (cheap, errs towards yes):
    %-escapes, JSON escapes (nested JSON, \\u-escaped non-ASCII), base64-looking tokens, ASCII
    hex of printable text. Only C-speed scans over the whole text; Python runs per candidate."""
    if ("%" in text or "\\" in text) and _ENCODED_HINT.search(text):
        return True
    data = text.encode("utf-8", "surrogatepass")  # lone surrogates come from JSON \\u escapes
    return _mixed_case_token(data) or _hex_of_text(data)


@dataclass(frozen=True, slots=True)
class Fragment:
    text: str
    where: str
    chain: tuple[str, ...] = ()
    structured: bool = False
    """The whole text of a container whose fields are also emitted one by one; searched
    only for things that span fields (a lat/lon pair, a list of package names)."""


class Budget:
    def __init__(self, cap: int = OUTPUT_CAP) -> None:
        self.left = cap

    def take(self, size: int) -> bool:
        if size > self.left:
            self.left = 0
            return False
        self.left -= size
        return True


def nest(where: str, kind: str, field: str) -> str:
    """``body`` + json + ``$.a`` -> ``body.json:$.a``; a nested field is appended with ``>``."""
    return f"{where}>{field}" if ":" in where else f"{where}.{kind}:{field}"


def _opaque(text: str) -> bool:
    """Whether ``Decoder.value(text, ..., depth=1)`` yields nothing but ``text`` itself (or
    its chunks): too short to decode, or neither JSON, a form, %-escaped, hex nor base64 (hex
    is within base64's alphabet)."""
    s = text.strip()
    return len(text) > RAW_CHUNK or len(s) < 8 or not (
        s[0] in "{[" or "=" in s or "%" in s or _B64.fullmatch(s))


def _looks_like_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    # Judged by its start, as file(1) does: a bomb of NULs stays cheap. Control characters
    # are ASCII, never part of a multi-byte sequence: counted in the bytes, at C speed.
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return text if controls <= 0.05 * len(sample) else None


class Decoder:
    """One per request: holds its budget and what could not be searched."""

    def __init__(self, budget: Budget | None = None, max_depth: int = MAX_DEPTH,
                 probe: Callable[[str], set[str]] | None = None) -> None:
        self.budget = budget or Budget()
        self.max_depth = max_depth
        # Fast path. ``probe`` returns the needle texts present in a text. A body with none
        # and no encoded layer (see has_encoded_layers) cannot hold a match: it is not taken
        # apart. A body with no encoded layer is taken apart only along fields holding a hit.
        self.probe = probe
        self.notes: list[str] = []

    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def _spend(self, size: int, what: str) -> bool:
        if self.budget.take(size):
            return True
        self._note(f"decoded output cap ({OUTPUT_CAP >> 20} MiB) reached at {what}; "
                   "deeper layers were not searched")
        return False

    # -- a request ---------------------------------------------------------------------
    def exchange(self, ex: HttpExchange) -> Iterator[Fragment]:
        yield from self._head(ex)
        if ex.request_body:
            body, chain = self._content_decode(ex.request_body, ex.header("content-encoding"))
            yield from self.blob(body, "body", chain, 1, ex.header("content-type"))
        for i, message in enumerate(ex.websocket_messages):
            yield from self.blob(message, f"websocket[{i}]", (), 1)

    def _head_needles(self, ex: HttpExchange, query: str) -> frozenset[str] | None:
        """Fast path for URL and headers, probed as one text: the needle texts in them when
        nothing in them is encoded (``+`` in a query decodes to a space); else None. Header
        names are left out: they are never searched, and common ones ("Content-Encoding")
        look like base64 to the layer hint."""
        if self.probe is None or "+" in query or any(c in ex.url for c in "\t\r\n"):
            return None  # urlsplit drops tabs and newlines: its parts would not be in the URL
        head = "\n".join([ex.url, *(value for _, value in ex.request_headers)])
        return None if has_encoded_layers(head) else frozenset(self.probe(head))

    def _head(self, ex: HttpExchange) -> Iterator[Fragment]:
        parts = urlsplit(ex.url)
        only = self._head_needles(ex, parts.query)
        if only is not None and not only:
            return

        def wanted(text: str, structured: bool = False) -> bool:
            """Without encoded layers (``unquote`` is then a no-op) a part holds a hit only if
            it holds a needle text, and an opaque part yields only itself: skipping it is
            exact. No separator of the head (``/?&=;`` space, newline) is a character a
            needle's boundary forbids, so a needle cleanly bounded in a part is cleanly
            bounded in the head too, hence in ``only``."""
            return only is None or any(h in text for h in only) or (
                not structured and not _opaque(text))

        path = unquote(parts.path)
        if wanted(path, structured=True):
            yield Fragment(path, "path", structured=True)
        for segment in parts.path.split("/"):
            if segment and wanted(segment):
                yield from self.value(unquote(segment), "path", (), 1)
        if parts.query:
            query = unquote(parts.query)
            if wanted(query, structured=True):
                yield Fragment(query, "query", structured=True)
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                if wanted(value or key):
                    yield from self.value(value or key, f"query:{key}", (), 1)
        for name, value in ex.request_headers:
            if name.lower() == "cookie":
                for crumb in value.split(";"):
                    cname, _, cvalue = crumb.strip().partition("=")
                    if wanted(cvalue or cname):
                        yield from self.value(cvalue or cname, f"cookie:{cname}", (), 1)
            elif wanted(value):
                yield from self.value(value, f"header:{name}", (), 1)

    def _content_decode(self, body: bytes, header: str | None) -> tuple[bytes, tuple[str, ...]]:
        chain: tuple[str, ...] = ()
        for token in reversed([t for t in (header or "").split(",") if t.strip()]):
            try:
                out, truncated = compression.decompress(body, token, self.budget.left)
            except compression.DecodeError as exc:
                # HAR exports often hold the decoded body under the original header
                self._note(f"body: Content-Encoding {token.strip()} did not decode ({exc}); "
                           "searched as sent")
                break
            if truncated:
                self._note(f"body: {token.strip()} output capped at {OUTPUT_CAP >> 20} MiB")
            self.budget.take(len(out))
            body, chain = out, (*chain, token.strip().lower())
        return body, chain

    # -- a blob of bytes (body, websocket message, decoded base64) ------------------------
    def blob(self, data: bytes, where: str, chain: tuple[str, ...], depth: int,
             content_type: str | None = None) -> Iterator[Fragment]:
        packed = compression.sniff(data)
        if packed and depth < self.max_depth:
            try:
                out, truncated = compression.decompress(data, packed, self.budget.left)
            except compression.DecodeError:
                out, truncated = b"", False
            if out and self._spend(len(out), where):
                if truncated:
                    self._note(f"{where}: {packed} output capped at {OUTPUT_CAP >> 20} MiB")
                yield from self.blob(out, where, (*chain, packed), depth + 1)
                return
        ctype = (content_type or "").lower()
        if ctype.startswith("multipart/") and depth < self.max_depth:
            yield from self._multipart(data, where, chain, depth, content_type or "")
            return
        text = _looks_like_text(data) if len(data) <= OUTPUT_CAP else None
        if text is not None:
            only: frozenset[str] | None = None
            if self.probe is not None and ":" not in where and not has_encoded_layers(text):
                only = frozenset(self.probe(text))
                if not only:
                    return
            yield from self.value(text, where, chain, depth, only)
            return
        if len(data) <= OUTPUT_CAP and depth < self.max_depth:
            try:
                fields = list(protobuf.leaves(data, self.max_depth - depth))
            except protobuf.NotProtobuf:
                fields = []
            if fields:
                added = (*chain, "protobuf") if ":" in where else chain
                for path, leaf in fields:
                    yield Fragment(leaf, nest(where, "protobuf", path), added)
        yield from self._raw(data, where, chain)

    def _raw(self, text: str | bytes, where: str, chain: tuple[str, ...]) -> Iterator[Fragment]:
        """Bytes are read as latin-1 (one char per byte), chunk by chunk, so a 100 MB body
        costs no second 100 MB copy."""
        for start in range(0, max(len(text), 1), RAW_CHUNK):
            piece = text[start:start + RAW_CHUNK + CHUNK_OVERLAP]
            yield Fragment(piece.decode("latin-1") if isinstance(piece, bytes) else piece,
                           where, chain)

    def _multipart(self, data: bytes, where: str, chain: tuple[str, ...], depth: int,
                   content_type: str) -> Iterator[Fragment]:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
        message = BytesParser(policy=HTTP).parsebytes(head + data)
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if not parts:
            yield from self._raw(data, where, chain)
            return
        for i, part in enumerate(parts):
            name = part.get_param("name", header="content-disposition") or str(i)
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                yield from self.blob(payload, nest(where, "multipart", str(name)),
                                     chain, depth + 1, part.get_content_type())

    # -- a string value (a field, a header, a decoded layer) ----------------------------
    def value(self, text: str, where: str, chain: tuple[str, ...], depth: int,
              only: frozenset[str] | None = None) -> Iterator[Fragment]:
        """Fragments of one string; with ``only``, fields holding none of those texts are
        skipped (the caller knows the text has no encoded layer)."""
        if len(text) > RAW_CHUNK:
            yield from self._raw(text, where, chain)
            return
        s = text.strip()
        deeper = depth < self.max_depth and len(s) >= 8
        # only JSON or a form is a container (see _container): most values are neither
        container = deeper and ((s[0] in "{[" and s[-1] in "}]") or "=" in s)
        if container and (yield from self._container(s, where, chain, depth, only)):
            return  # its fields were emitted one by one
        yield Fragment(text, where, chain)
        if not deeper:
            return
        if "%" in s:
            decoded = unquote(s)
            if decoded != s and self._spend(len(decoded), where):
                yield from self.value(decoded, where, (*chain, "url"), depth + 1)
                return
        if _HEX.fullmatch(s) and not s.isdigit():
            raw = bytes.fromhex(s)
            inner = _looks_like_text(raw)
            if inner is not None and self._spend(len(raw), where):
                yield from self.value(inner, where, (*chain, "hex"), depth + 1)
                return
        if _B64.fullmatch(s) and not _HEX.fullmatch(s):
            yield from self._base64(s, where, chain, depth)

    def _container(self, s: str, where: str, chain: tuple[str, ...], depth: int,
                   only: frozenset[str] | None) -> Generator[Fragment, None, bool]:
        """JSON or a form; returns (as the generator's value) whether ``s`` was one."""
        nested = ":" in where
        if s[0] in "{[" and s[-1] in "}]" and only is not None:
            leaves = leaves_at(s, only)  # fast path: parse only around the hits
            if leaves is not None:
                added = (*chain, "json") if nested else chain
                yield Fragment(s, where if nested else f"{where}.json", added, structured=True)
                for path, leaf in leaves:
                    yield from self.value(leaf, nest(where, "json", path), added, depth + 1,
                                          only)
                return True
        elif s[0] in "{[" and s[-1] in "}]":
            try:
                document = json.loads(s)
            except (ValueError, RecursionError):
                document = None
            if isinstance(document, dict | list):
                added = (*chain, "json") if nested else chain
                yield Fragment(s, where if nested else f"{where}.json", added, structured=True)
                yield from self._json(document, where, "$", added, depth + 1)
                return True
        if "=" in s and not s.endswith("=") and _FORM.fullmatch(s):
            added = (*chain, "form") if nested else chain
            spot = where if nested else f"{where}.form"
            yield Fragment(unquote(s), spot, added, structured=True)
            for key, val in parse_qsl(s, keep_blank_values=True):
                if only is None or any(h in key or h in val for h in only):
                    yield from self.value(val or key, nest(where, "form", key), added,
                                          depth + 1, only)
            return True
        return False

    def _base64(self, s: str, where: str, chain: tuple[str, ...],
                depth: int) -> Iterator[Fragment]:
        padded = s.rstrip("=") + "=" * (-len(s.rstrip("=")) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            return
        if len(raw) < 6 or not self._spend(len(raw), where):
            return
        inner = _looks_like_text(raw)
        if inner is not None:
            yield from self.value(inner, where, (*chain, "base64"), depth + 1)
        elif compression.sniff(raw) or len(raw) >= 16:
            yield from self.blob(raw, where, (*chain, "base64"), depth + 1)

    def _json(self, node: Any, where: str, path: str, chain: tuple[str, ...],
              depth: int) -> Iterator[Fragment]:
        if isinstance(node, dict):
            for key, child in node.items():
                below = child_path(path, str(key))
                if len(key) >= 6:  # ids and package names used as keys
                    yield Fragment(key, nest(where, "json", below), chain)
                yield from self._json(child, where, below, chain, depth)
        elif isinstance(node, list):
            for i, child in enumerate(node):
                yield from self._json(child, where, f"{path}[{i}]", chain, depth)
        elif isinstance(node, str):
            yield from self.value(node, nest(where, "json", path), chain, depth)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield Fragment(repr(node), nest(where, "json", path), chain)

