"""Find known personal values in requests: one Aho-Corasick automaton over every variant.

Build a :class:`ValueMatcher` once from the run's values (``{"imei": [...], "location":
[[lat, lon]], ...}``) and call :meth:`ValueMatcher.scan` per request. Each hit is checked for
clean boundaries, a location counts only as a lat/lon pair close together, and installed
packages count only when at least ``MIN_PACKAGES`` of them occur in one request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from harness.errors import InputError
from harness.traffic.decoders import Decoder, Fragment, has_encoded_layers
from harness.traffic.exchange import HttpExchange
from harness.traffic.recipients import recipient_of
from harness.traffic.variants import (
    Needle,
    location_needles,
    package_needles,
    value_needles,
)

log = logging.getLogger(__name__)

PAIR_GAP = 64  # max characters between a latitude and its longitude
MIN_PACKAGES = 3
PACKAGE_TYPES = frozenset({"installed_packages", "packages", "installed_apps"})
LOCATION_TYPES = frozenset({"location", "gps"})
# The automaton holds ASCII-case-folded keys (half as many states: hex digests and values come
# in lower and upper case); a hit is then confirmed against the exact text of each needle.
_FOLD = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

_FORBIDDEN: dict[str, Callable[[str], bool]] = {
    "digits": str.isdigit,
    "hex": lambda ch: ch in "0123456789abcdefABCDEF",
    "alnum": str.isalnum,
    "number": lambda ch: ch.isdigit() or ch == ".",
    "package": lambda ch: ch.isalnum() or ch in "._",
}


@dataclass(frozen=True, slots=True)
class Match:
    flow: int
    data_type: str
    value: str
    url: str
    host: str
    where: str
    transform: str
    recipient: str | None

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "data_type": self.data_type, "value": self.value,
                "url": self.url, "where": self.where, "transform": self.transform,
                "host": self.host, "recipient": self.recipient}


def _clean_edges(text: str, start: int, end: int, needle: Needle) -> bool:
    forbidden = _FORBIDDEN.get(needle.boundary)
    if forbidden is None:
        return True
    if start > 0:
        before = text[start - 1]
        if forbidden(before) or (needle.kind in ("lat", "lon") and before == "-"):
            return False
    return not (end < len(text) and forbidden(text[end]))


def _chain(fragment: Fragment, transform: str) -> str:
    steps = [*fragment.chain, transform] if transform != "plain" else list(fragment.chain)
    return ">".join(steps) or "plain"


def _coordinates(data_type: str, entry: Any, i: int) -> tuple[float, float]:
    if (isinstance(entry, list | tuple) and len(entry) == 2
            and all(isinstance(n, int | float) and not isinstance(n, bool) for n in entry)):
        lat, lon = float(entry[0]), float(entry[1])
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    raise InputError(f"values: {data_type}[{i}] must be a [latitude, longitude] pair of "
                     f"numbers, got {entry!r}")


class ValueMatcher:
    """Reusable across requests; building it for 10k variants takes well under a second."""

    def __init__(self, values: Mapping[str, Sequence[Any]]) -> None:
        self._needles: dict[str, list[Needle]] = {}
        group = 0
        for data_type, entries in values.items():
            if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
                raise InputError(f"values: '{data_type}' must be a list, got "
                                 f"{type(entries).__name__}")
            for i, entry in enumerate(entries):
                if data_type in LOCATION_TYPES:
                    lat, lon = _coordinates(data_type, entry, i)
                    self._add(location_needles(lat, lon, group))
                    group += 1
                elif data_type in PACKAGE_TYPES:
                    self._add(package_needles(data_type, str(entry)))
                elif isinstance(entry, str | int) and not isinstance(entry, bool):
                    self._add(value_needles(data_type, str(entry)))
                else:
                    raise InputError(f"values: {data_type}[{i}] must be a string or integer, "
                                     f"got {entry!r}")
        self._automaton: Any = ahocorasick.Automaton()
        for key, needles in self._needles.items():
            self._automaton.add_word(key, (len(key), needles))
        if self._needles:
            self._automaton.make_automaton()
        self.notes: list[str] = []
        """What the last :meth:`scan` could not search (decoding caps); empty when complete."""

    def _add(self, needles: Iterable[Needle]) -> None:
        for needle in needles:
            bucket = self._needles.setdefault(needle.text.translate(_FOLD), [])
            # the first (simplest) transform of a value wins when two produce the same text
            if not any(n.text == needle.text and n.data_type == needle.data_type
                       and n.value == needle.value and n.kind == needle.kind for n in bucket):
                bucket.append(needle)

    def _worth(self, text: str) -> bool:
        """Does ``text`` contain any needle, or a layer that could hide one?"""
        for _ in self._automaton.iter(text.translate(_FOLD)):
            return True
        return has_encoded_layers(text)

    @property
    def variant_count(self) -> int:
        """Distinct needle texts searched for (case variants counted separately)."""
        return len({n.text for bucket in self._needles.values() for n in bucket})

    def scan(self, exchange: HttpExchange) -> list[Match]:
        """Every distinct (data type, value, where, transform) found in ``exchange``."""
        decoder = Decoder(worth=self._worth)
        found: dict[tuple[str, str, str, str], Match] = {}
        packages: dict[str, str] = {}  # package -> where first seen
        in_fields: set[tuple[str, str]] = set()  # location pairs found inside one field
        package_type = "installed_packages"
        pairs: list[tuple[Match, str]] = []  # pairs that span fields, with their rounding
        recipient = recipient_of(exchange.host).tracker
        if not self._needles:
            return []

        def emit(data_type: str, value: str, where: str, transform: str) -> Match:
            return Match(exchange.index, data_type, value, exchange.url, exchange.host,
                         where, transform, recipient)

        for fragment in decoder.exchange(exchange):
            coords: list[tuple[int, int, Needle]] = []
            text = fragment.text
            for end, (size, needles) in self._automaton.iter(text.translate(_FOLD)):
                start = end + 1 - size
                exact = text[start:end + 1]
                for needle in needles:
                    if needle.text != exact or not _clean_edges(text, start, end + 1, needle):
                        continue
                    if needle.kind == "package":
                        packages.setdefault(needle.value, fragment.where)
                        package_type = needle.data_type
                    elif needle.kind in ("lat", "lon"):
                        coords.append((start, end + 1, needle))
                    elif not fragment.structured:
                        transform = _chain(fragment, needle.transform)
                        key = (needle.data_type, needle.value, fragment.where, transform)
                        found.setdefault(key, emit(*key))
            for data_type, value, transform in _pairs(coords):
                match = emit(data_type, value, fragment.where, _chain(fragment, transform))
                if fragment.structured:
                    pairs.append((match, transform))
                else:
                    found.setdefault((data_type, value, match.where, match.transform), match)
                    in_fields.add((value, transform))
        for match, transform in pairs:  # pairs across fields, unless one field held them
            if (match.value, transform) not in in_fields:
                found.setdefault((match.data_type, match.value, match.where, match.transform),
                                 match)
        if len(packages) >= MIN_PACKAGES:
            wheres = sorted(set(packages.values()))
            found[(package_type, "", "", "")] = emit(
                package_type, ",".join(sorted(packages)), wheres[0], "plain")
        self.notes = [f"flow {exchange.index} ({exchange.url}): {n}" for n in decoder.notes]
        for note in self.notes:
            log.warning("warning: not fully searched: %s", note)
        return list(found.values())


def _pairs(coords: list[tuple[int, int, Needle]]) -> list[tuple[str, str, str]]:
    """(data type, value, transform) for each lat/lon pair close together in one text."""
    result: dict[tuple[str, str], str] = {}
    for s1, e1, lat in coords:
        if lat.kind != "lat":
            continue
        for s2, e2, lon in coords:
            if lon.kind != "lon" or lon.group != lat.group:
                continue
            gap = s2 - e1 if s2 >= e1 else s1 - e2
            if 0 <= gap <= PAIR_GAP:
                order = "" if s2 > s1 else ">lon-lat"
                key = (lat.data_type, lat.value)
                transform = lat.transform + order
                best = result.get(key)
                if best is None or _places(transform) > _places(best):
                    result[key] = transform
    return [(data_type, value, transform) for (data_type, value), transform in result.items()]


def _places(transform: str) -> int:
    return int(transform.split("-")[1].rstrip("dp"))
