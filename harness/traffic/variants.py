"""Every way a known value may appear on the wire: the needles of the matcher.

A :class:`Needle` is one string to search for plus what it means (data type, original value,
the transform chain that produced it, and which neighbours end a match). Forms of a value
(as given, lower, upper; MAC separators; phone without punctuation) are each encoded as:
plain, URL-encoded (once and twice), base64 (standard, URL-safe, unpadded), ASCII hex, and
MD5/SHA-1/SHA-224/SHA-256/SHA-384/SHA-512 digests as hex (lower/upper), base64 and raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

MIN_PLAIN = 6  # shorter values match too much by chance; only their digests are searched
MIN_DIGEST = 4
DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
LOCATION_PRECISIONS = range(2, 7)
_MAC = re.compile(r"(?i)[0-9a-f]{2}(?:[:-]?[0-9a-f]{2}){5}")

Kind = Literal["value", "lat", "lon", "package"]
# What must not touch a match on either side: a 15-digit IMEI inside a 20-digit number, a
# 16-hex Android ID inside a longer hex run or a coordinate inside a longer number is no hit.
Boundary = Literal["digits", "hex", "alnum", "number", "package", "none"]


@dataclass(frozen=True, slots=True)
class Needle:
    text: str
    data_type: str
    value: str
    transform: str
    kind: Kind = "value"
    boundary: Boundary = "alnum"
    group: int = 0
    """Location pairs: index of the pair in the values; lat and lon needles share it."""


def _boundary_for(text: str) -> Boundary:
    if text.isdigit():
        return "digits"
    if re.fullmatch(r"[0-9a-fA-F]+", text):
        return "hex"
    return "alnum" if text[0].isalnum() or text[-1].isalnum() else "none"


def forms(data_type: str, value: str) -> Iterator[tuple[str, str]]:
    """(form, name of the form) for one value: as given, lower, upper and type-specific ones."""
    yield value, ""
    yield value.lower(), "lower"
    yield value.upper(), "upper"
    if data_type in ("mac", "bssid") or _MAC.fullmatch(value):
        bare = re.sub(r"[:-]", "", value)
        for sep, sep_name in ((":", "colon"), ("-", "dash"), ("", "nosep")):
            joined = sep.join(bare[i:i + 2] for i in range(0, 12, 2))
            yield joined.lower(), f"mac-{sep_name}-lower"
            yield joined.upper(), f"mac-{sep_name}-upper"
    if data_type == "phone":
        digits = re.sub(r"\D", "", value)
        yield digits, "digits"


def _encodings(form: str) -> Iterator[tuple[str, str]]:
    raw = form.encode("utf-8", "surrogatepass")  # a lone surrogate from a JSON \u escape
    if len(form) >= MIN_PLAIN:
        yield form, ""
        if not form.isascii():  # a UTF-8 value inside a binary body read as latin-1
            yield raw.decode("latin-1"), "utf8"
        once = quote(form, safe="", errors="surrogatepass")
        yield once, "url"
        yield quote(once, safe=""), "url>url"
        yield base64.b64encode(raw).decode(), "base64"
        yield base64.urlsafe_b64encode(raw).decode(), "base64url"
        yield base64.b64encode(raw).decode().rstrip("="), "base64-nopad"
        yield base64.urlsafe_b64encode(raw).decode().rstrip("="), "base64url-nopad"
        yield raw.hex(), "hex-lower"
        yield raw.hex().upper(), "hex-upper"
    if len(form) >= MIN_DIGEST:
        for name in DIGESTS:
            digest = hashlib.new(name, raw).digest()
            yield digest.hex(), f"{name}-hex-lower"
            yield digest.hex().upper(), f"{name}-hex-upper"
            yield base64.b64encode(digest).decode(), f"{name}-base64"
            yield digest.decode("latin-1"), f"{name}-raw"


def _trivial(value: str) -> bool:
    """Placeholders such as a zeroed AAID or '000000' identify nobody."""
    core = re.sub(r"[\s:.\-]", "", value)
    return len(set(core.lower())) <= 1


def value_needles(data_type: str, value: str) -> Iterator[Needle]:
    if not value or _trivial(value):
        return
    for form, form_name in forms(data_type, value):
        for text, encoding in _encodings(form):
            if not text:
                continue
            transform = ">".join(p for p in (form_name, encoding) if p) or "plain"
            boundary = "none" if encoding.endswith("-raw") else _boundary_for(text)
            yield Needle(text, data_type, value, transform, "value", boundary)


def _coordinate(number: float, places: int) -> set[str]:
    fixed = f"{number:.{places}f}"
    return {fixed, fixed.rstrip("0").rstrip(".")}  # 39.90 is often written 39.9


def location_needles(lat: float, lon: float, group: int) -> Iterator[Needle]:
    label = f"{lat},{lon}"
    for places in LOCATION_PRECISIONS:
        for kind, number in (("lat", lat), ("lon", lon)):
            for text in _coordinate(number, places):
                if len(text.lstrip("-").replace(".", "")) >= 3:  # "40" alone is no evidence
                    yield Needle(text, "location", label, f"round-{places}dp",
                                 kind, "number", group)  # type: ignore[arg-type]


def package_needles(data_type: str, package: str) -> Iterator[Needle]:
    if package.count(".") >= 1 and len(package) >= MIN_PLAIN:
        yield Needle(package, data_type, package, "plain", "package", "package")
