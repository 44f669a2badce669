"""Who received a request: the registrable domain (eTLD+1) and, when known, the tracker or SDK.

eTLD+1 comes from the Public Suffix List copy shipped inside ``publicsuffix2`` (offline).
Tracker names come from consentry's own table ``harness/data/tracker_hosts.json``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from publicsuffix2 import PublicSuffixList

from harness.errors import InputError
from harness.resources import data_dir

TABLE = "tracker_hosts.json"


@dataclass(frozen=True, slots=True)
class Recipient:
    host: str
    etld1: str
    tracker: str | None


@cache
def _psl() -> Any:
    return PublicSuffixList()


@cache
def tracker_patterns() -> dict[str, str]:
    """host suffix -> tracker name, from the table."""
    path = data_dir() / TABLE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        patterns: dict[str, str] = {}
        for entry in table["trackers"]:
            for host in entry["hosts"]:
                patterns[str(host).lower().removeprefix("*.")] = str(entry["name"])
        return patterns
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: tracker table unreadable ({exc}); it ships with consentry, "
                         "reinstall the package") from exc


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def recipient_of(host: str) -> Recipient:
    """The recipient behind ``host`` (case and a trailing dot do not matter)."""
    name = host.strip().rstrip(".").lower()
    if not name or _is_ip(name) or "." not in name:
        etld1 = name
    else:
        etld1 = _psl().get_sld(name) or name
    patterns = tracker_patterns()
    tracker = None
    labels = name.split(".")
    for i in range(len(labels)):  # longest suffix first: alog.umeng.com before umeng.com
        found = patterns.get(".".join(labels[i:]))
        if found is not None:
            tracker = found
            break
    return Recipient(host=name, etld1=etld1, tracker=tracker)
