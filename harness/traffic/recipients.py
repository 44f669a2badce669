"""Who received a request: the registrable domain (eTLD+1) and, when known, the tracker or SDK.

eTLD+1 comes from the Public Suffix List copy shipped inside ``publicsuffix2`` (offline).
Tracker names come from consentry's own table ``harness/data/tracker_hosts.json``.
First party: the host's eTLD+1 is the app's own domain (its package name reversed,
``org.consentry.specimen`` -> ``consentry.org``) or one the user listed; anything else is a
third party, whether or not the tracker table knows it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

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


Party = Literal["first", "third"]


def etld1_of(host: str) -> str:
    """The registrable domain of ``host`` (the host itself for an IP or a single label)."""
    return recipient_of(host).etld1


@cache
def app_domain(package: str) -> str | None:
    """The registrable domain an Android package name stands for, or None when it has no
    public suffix (``org.consentry.specimen`` -> ``consentry.org``; ``com.tencent.mm`` ->
    ``tencent.com``)."""
    labels = [label for label in package.strip().lower().split(".") if label]
    if len(labels) < 2:
        return None
    domain = _psl().get_sld(".".join(reversed(labels)), strict=True)
    return str(domain) if domain and "." in domain else None


def party_of(host: str, package: str | None, first_party_domains: Iterable[str] = ()) -> Party:
    """``first`` when ``host`` belongs to the app's own domain or to one of
    ``first_party_domains`` (the domain itself or any subdomain), else ``third``."""
    name = host.strip().rstrip(".").lower()
    own = {d.strip().lower().removeprefix("*.").rstrip(".") for d in first_party_domains}
    domain = app_domain(package) if package else None
    if domain:
        own.add(domain)
    own.discard("")
    if etld1_of(name) in own or any(name.endswith("." + d) or name == d for d in own):
        return "first"
    return "third"
