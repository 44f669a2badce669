"""The values the hooks saw, per data type, with who read them and when (value provenance).

A hooked getter's return value is the collected datum; it is what traffic is searched for.
Values too short or too generic to identify anyone (``0``, ``unknown``, the constant MAC
Android returns since 6.0) are left out, because searching for them would flag every request.

Two more sources make a send provable when no hook saw the read: the device's ground truth
(``device.ground_truth``, read through the target at session start) and planted canaries
(``device.canary``). They are :class:`Planted` values: searched for, but they carry no read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.analysis.attribution import Attribution
from harness.device.canaries import CANARY_EVENT, GROUND_TRUTH_EVENT, normalize_types
from harness.events import Event
from harness.traffic.matcher import LOCATION_TYPES, PACKAGE_TYPES

MIN_VALUE_LENGTH = 6
"""Shorter values match by chance in ordinary traffic."""

GENERIC_VALUES = frozenset({
    "unknown", "null", "none", "undefined", "02:00:00:00:00:00", "00:00:00:00:00:00",
    "000000000000000", "00000000-0000-0000-0000-000000000000", "true", "false",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """One value read by one hooked call."""

    event: Event
    data_type: str
    value: str
    attribution: Attribution


def scalar_values(ret: Any) -> list[str]:
    """The searchable strings inside a return value (nested JSON is flattened)."""
    if ret is None or isinstance(ret, bool):
        return []
    if isinstance(ret, str):
        return [ret]
    if isinstance(ret, int | float):
        return [str(ret)]
    if isinstance(ret, Mapping):
        return [s for v in ret.values() for s in scalar_values(v)]
    if isinstance(ret, list | tuple):
        if ret and all(isinstance(b, int) and not isinstance(b, bool) and -128 <= b <= 255
                       for b in ret):
            # a byte[] (e.g. NetworkInterface.getHardwareAddress) is sent as a hex MAC
            return [":".join(f"{b & 0xFF:02x}" for b in ret)]
        return [s for v in ret for s in scalar_values(v)]
    return []


def location_pair(ret: Any) -> tuple[float, float] | None:
    """``(lat, lon)`` from a location return value (object with lat/lon keys, or a pair)."""
    lat: Any = None
    lon: Any = None
    if isinstance(ret, Mapping):
        lat = next((ret[k] for k in ("lat", "latitude", "mLatitude") if k in ret), None)
        lon = next((ret[k] for k in ("lon", "lng", "longitude", "mLongitude") if k in ret), None)
    elif isinstance(ret, list | tuple) and len(ret) == 2:
        lat, lon = ret
    try:
        pair = (float(lat), float(lon))
    except (TypeError, ValueError):
        return None
    if isinstance(lat, bool) or not (-90 <= pair[0] <= 90 and -180 <= pair[1] <= 180):
        return None
    return pair


def is_searchable(value: str) -> bool:
    text = value.strip()
    return (len(text) >= MIN_VALUE_LENGTH and text.lower() not in GENERIC_VALUES
            and len(set(text)) > 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Planted:
    """A value known before the app ran: the device's own (ground truth) or a canary."""

    event: Event
    data_type: str
    value: str
    source: str
    """``ground_truth`` or ``canary``."""


class ValueIndex:
    """Every searchable value read in a run, by data type, with its reads in time order,
    plus the values known from the device itself (:class:`Planted`)."""

    def __init__(self, reads: Iterable[Read], planted: Iterable[Planted] = ()) -> None:
        self.reads = sorted(reads, key=lambda r: (r.event.t, r.event.seq))
        self.planted = sorted(planted, key=lambda p: (p.event.seq, p.data_type, p.value))

    def values_by_type(self) -> dict[str, list[Any]]:
        """``data_type -> distinct values``: the input of :class:`ValueMatcher`, where a
        location is a ``[lat, lon]`` pair and everything else a string."""
        out: dict[str, list[Any]] = {}
        for read in self.reads:
            values = out.setdefault(read.data_type, [])
            value: Any = read.value
            if read.data_type in LOCATION_TYPES:
                value = [float(part) for part in read.value.split(",")]
            if value not in values:
                values.append(value)
        for known in self.planted:
            values = out.setdefault(known.data_type, [])
            value = known.value
            if known.data_type in LOCATION_TYPES:
                value = [float(part) for part in known.value.split(",")]
            if value not in values:
                values.append(value)
        return out

    def planted_of(self, data_type: str, value: str) -> Planted | None:
        """The first ground-truth or canary record of ``value`` (installed-package lists:
        any record of that type)."""
        return next((p for p in self.planted if p.data_type == data_type
                     and (p.value == value or data_type in PACKAGE_TYPES)), None)

    def reads_of(self, data_type: str, value: str, *, until: float) -> list[Read]:
        """Reads of ``value`` at or before ``until`` (the send time), oldest first. For
        installed-package lists the matcher reports the packages it found, so any read of
        that list counts."""
        return [r for r in self.reads
                if r.data_type == data_type and r.event.t <= until
                and (r.value == value or data_type in PACKAGE_TYPES)]


def _planted(event: Event) -> list[Planted]:
    """The searchable values of a ground-truth or (planted) canary event."""
    if event.type == CANARY_EVENT:
        if not event.data.get("planted"):
            return []
        pairs = [(str(event.data.get("data_type") or "canary"), str(event.data.get("value")))]
        source = "canary"
    else:
        raw = event.data.get("values")
        table = normalize_types({str(k): [str(x) for x in v] for k, v in raw.items()
                                 if isinstance(v, list)}) if isinstance(raw, Mapping) else {}
        pairs = [(t, v) for t, vs in table.items() for v in vs]
        source = "ground_truth"
    found = []
    for data_type, value in pairs:
        value = value.strip()
        if data_type in LOCATION_TYPES:
            pair = location_pair(value.split(","))
            if pair is not None:
                found.append(Planted(event=event, data_type=data_type,
                                     value=f"{pair[0]},{pair[1]}", source=source))
        elif is_searchable(value) or data_type in PACKAGE_TYPES:
            found.append(Planted(event=event, data_type=data_type, value=value, source=source))
    return found


def build_index(events: Iterable[Event], attributions: Mapping[int, Attribution]) -> ValueIndex:
    """Index the ``hook.call`` return values (``attributions`` is keyed by event seq) and the
    ground-truth and canary values."""
    reads = []
    planted: list[Planted] = []
    for event in events:
        if event.type in (GROUND_TRUTH_EVENT, CANARY_EVENT):
            planted.extend(_planted(event))
            continue
        if event.type != "hook.call":
            continue
        data_type = str(event.data.get("data_type") or event.data.get("category") or "unknown")
        seen: set[str] = set()
        ret = event.data.get("ret")
        if data_type in LOCATION_TYPES:
            pair = location_pair(ret)
            if pair is not None:  # the label is the matcher's value for a location
                reads.append(Read(event=event, data_type=data_type, value=f"{pair[0]},{pair[1]}",
                                  attribution=attributions[event.seq]))
            continue
        for value in scalar_values(ret):
            value = value.strip()
            if is_searchable(value) and value not in seen:
                seen.add(value)
                reads.append(Read(event=event, data_type=data_type, value=value,
                                  attribution=attributions[event.seq]))
    return ValueIndex(reads, planted)
