"""Which collected values appear in which request: the analysis side of the traffic matcher.

The search itself (every encoding, nested containers, boundaries, lat/lon pairs) is
``harness.traffic.matcher.ValueMatcher``; this module feeds it the run's ``flow.http`` events
and keeps, for each hit, the event it came from so the rules can relate it to the read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.analysis.plaintext import plaintext_exchanges
from harness.events import FLOW_HTTP, Event
from harness.traffic.exchange import from_flow_event
from harness.traffic.matcher import ValueMatcher

EXCERPT_CHARS = 240
"""Characters of the request kept as an excerpt in findings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMatch:
    """One collected value found in one request."""

    flow_event: Event
    data_type: str
    value: str
    where: str
    """Section and field path, e.g. ``url``, ``query:imei``, ``header:x-id``, ``body>$.aid``."""
    transform: str
    """How the value was encoded, e.g. ``plain``, ``base64``, ``md5-hex-lower``."""
    recipient: str | None
    """Known tracker behind the host, if the traffic tables know it."""
    excerpt: str

    @property
    def flow_id(self) -> str:
        return flow_id(self.flow_event)

    @property
    def host(self) -> str:
        return str(self.flow_event.data.get("host") or "")

    @property
    def url(self) -> str:
        return str(self.flow_event.data.get("url") or "")


@dataclass(slots=True)
class SendScan:
    matches: list[SendMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Parts of requests that could not be searched completely (decoder caps)."""


def first_party_domains(manifest: Mapping[str, Any]) -> list[str]:
    """Domains the run declares first party besides the app's own (manifest
    ``app.first_party_domains``, e.g. a company's API domain unrelated to the package)."""
    app = manifest.get("app")
    domains = app.get("first_party_domains") if isinstance(app, Mapping) else None
    return [str(d) for d in domains] if isinstance(domains, list) else []


def flow_id(event: Event) -> str:
    return str(event.data.get("id") or f"seq-{event.seq}")


def request_excerpt(data: Mapping[str, Any], where: str) -> str:
    """The URL, or the start of the body when the value was found in the body."""
    text = str(data.get("url") or "")
    if where.startswith("body"):
        try:
            raw = data.get("request_body_b64") or data.get("data_b64") or ""
            body = base64.b64decode(str(raw))
        except (binascii.Error, ValueError):
            body = b""
        text = body.decode("utf-8", errors="replace")
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def match_flows(events: Iterable[Event], values: Mapping[str, Sequence[Any]]) -> SendScan:
    """Scan every ``flow.http`` event, and TLS plaintext the proxy did not see, for
    ``values``; results in timeline order."""
    scan = SendScan()
    if not any(values.values()):
        return scan
    events = list(events)
    matcher = ValueMatcher(values)
    flows = [e for e in events if e.type == FLOW_HTTP]
    requests = [(event, from_flow_event(event.data, index)) for index, event in enumerate(flows)]
    requests += plaintext_exchanges(events)
    requests.sort(key=lambda pair: (pair[0].t, pair[0].seq))
    for event, exchange in requests:
        for match in sorted(matcher.scan(exchange),
                            key=lambda m: (m.data_type, m.value, m.where, m.transform)):
            scan.matches.append(SendMatch(
                flow_event=event, data_type=match.data_type, value=match.value,
                where=match.where, transform=match.transform, recipient=match.recipient,
                excerpt=request_excerpt(event.data, match.where)))
        scan.notes.extend(matcher.notes)
    return scan
