"""Find known personal values in requests: one Aho-Corasick automaton over every variant.

Build a :class:`ValueMatcher` once from the run's values (``{"imei": [...], "location":
[[lat, lon]], ...}``) and call :meth:`ValueMatcher.scan` per request. Each hit is checked for
clean boundaries, a location counts only as a lat/lon pair close together, and installed
packages count only when at least ``MIN_PACKAGES`` of them occur in one request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import InputError
from harness.traffic.automaton import NeedleIndex
from harness.traffic.decoders import Decoder, Fragment
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
SHORT_TEXT = 256  # texts up to this length have their hits memoised ...
SHORT_TEXTS_KEPT = 4096  # ... this many at a time (a few MiB at most)


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

    def __init__(self, values: Mapping[str, Sequence[Any]], *, fast_path: bool = True) -> None:
        """``fast_path=False`` takes every body apart field by field (for cross-checks)."""
        self.fast_path = fast_path
        needles: list[Needle] = []
        group = 0
        for data_type, entries in values.items():
            if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
                raise InputError(f"values: '{data_type}' must be a list, got "
                                 f"{type(entries).__name__}")
            for i, entry in enumerate(entries):
                if data_type in LOCATION_TYPES:
                    lat, lon = _coordinates(data_type, entry, i)
                    needles.extend(location_needles(lat, lon, group))
                    group += 1
                elif data_type in PACKAGE_TYPES:
                    needles.extend(package_needles(data_type, str(entry)))
                elif isinstance(entry, str | int) and not isinstance(entry, bool):
                    needles.extend(value_needles(data_type, str(entry)))
                else:
                    raise InputError(f"values: {data_type}[{i}] must be a string or integer, "
                                     f"got {entry!r}")
        self._index = NeedleIndex(needles)
        self._last: tuple[str, tuple[tuple[int, int, Needle], ...]] | None = None
        self._short: dict[str, tuple[tuple[int, int, Needle], ...]] = {}
        self.notes: list[str] = []
        """What the last :meth:`scan` could not search (decoding caps); empty when complete."""

    def _find(self, text: str) -> Sequence[tuple[int, int, Needle]]:
        """The index's hits in ``text``. The last text's are kept, because the decoder's probe
        and the matcher see the same body text (the same object) one after the other. Short
        texts (header values, query values, JSON leaves) recur from request to request, and
        searching one costs more in call overhead than in scanning: their hits are memoised."""
        if self._last is not None and self._last[0] is text:
            return self._last[1]
        if len(text) <= SHORT_TEXT:
            hits = self._short.get(text)
            if hits is None:
                if len(self._short) >= SHORT_TEXTS_KEPT:
                    self._short.clear()  # bounded memory; the recurring texts come back
                hits = self._short[text] = tuple(self._index.find(text))
            return hits
        hits = tuple(self._index.find(text))
        self._last = (text, hits)
        return hits

    def _present(self, text: str) -> set[str]:
        """The needle texts that occur in ``text``."""
        return {needle.text for _, _, needle in self._find(text)}

    @property
    def variant_count(self) -> int:
        """Distinct needle texts searched for (case variants counted separately)."""
        return self._index.variants

    def scan(self, exchange: HttpExchange) -> list[Match]:
        """Every distinct (data type, value, where, transform) found in ``exchange``."""
        decoder = Decoder(probe=self._present if self.fast_path else None)
        found: dict[tuple[str, str, str, str], Match] = {}
        packages: dict[str, str] = {}  # package -> where first seen
        in_fields: set[tuple[str, str]] = set()  # location pairs found inside one field
        package_type = "installed_packages"
        pairs: list[tuple[Match, str]] = []  # pairs that span fields, with their rounding
        recipient = recipient_of(exchange.host).tracker
        if not self._index:
            return []

        def emit(data_type: str, value: str, where: str, transform: str) -> Match:
            return Match(exchange.index, data_type, value, exchange.url, exchange.host,
                         where, transform, recipient)

        for fragment in decoder.exchange(exchange):
            coords: list[tuple[int, int, Needle]] = []
            for start, end, needle in self._find(fragment.text):
                if needle.kind == "package":
                    packages.setdefault(needle.value, fragment.where)
                    package_type = needle.data_type
                elif needle.kind in ("lat", "lon"):
                    coords.append((start, end, needle))
                elif not fragment.structured:
                    transform = _chain(fragment, needle.transform)
                    key = (needle.data_type, needle.value, fragment.where, transform)
                    if key not in found:  # a value repeated in a field is one match
                        found[key] = emit(*key)
            if not coords:
                continue
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
        self._last = None  # do not keep a body alive after its request
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
    """Decimal places of a ``round-<n>dp[>lon-lat]`` transform."""
    return int(transform.removeprefix("round-").split("dp", 1)[0])
