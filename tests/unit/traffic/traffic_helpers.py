"""Small builders shared by the traffic tests."""

from __future__ import annotations

from harness.traffic.exchange import HttpExchange
from harness.traffic.matcher import Match, ValueMatcher


def request(url: str = "https://example.org/collect", body: bytes = b"",
            headers: list[tuple[str, str]] | None = None, index: int = 0,
            websocket: list[bytes] | None = None) -> HttpExchange:
    from urllib.parse import urlsplit

    return HttpExchange(index=index, method="POST", url=url, host=urlsplit(url).hostname or "",
                        request_headers=headers or [], request_body=body,
                        websocket_messages=websocket or [])


def hits(matcher: ValueMatcher, exchange: HttpExchange,
         data_type: str | None = None) -> list[Match]:
    return [m for m in matcher.scan(exchange) if data_type is None or m.data_type == data_type]
