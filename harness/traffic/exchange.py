"""One HTTP request as the traffic matcher sees it, whatever file or event it came from.

Three sources feed :class:`HttpExchange`: ``flow.http`` events in ``events.jsonl`` (written by
the capture component), HAR 1.2 files and mitmproxy flow dumps. Only the request side matters:
personal data *leaves* the device in requests and in client-sent WebSocket messages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import InputError


@dataclass
class HttpExchange:
    """A request the app sent (or tried to send)."""

    index: int
    """0-based position of the flow in its source (file or run)."""
    method: str
    url: str
    host: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    """The body as sent on the wire, still content-encoded."""
    websocket_messages: list[bytes] = field(default_factory=list)
    """Messages the client sent over a WebSocket upgraded from this request."""
    flow_id: str | None = None
    t: float | None = None
    """Host time (Unix seconds) of the request, when known."""

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.request_headers:
            if key.lower() == wanted:
                return value
        return None


def _b64(data: dict[str, Any], key: str, where: str) -> bytes:
    raw = data.get(key) or ""
    if not isinstance(raw, str):
        raise InputError(f"{where}: '{key}' must be a base64 string, got {type(raw).__name__}")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{where}: '{key}' is not valid base64 ({exc}); "
                         "the capture component writes the raw body base64-encoded") from exc


def _pairs(value: Any, key: str, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 for p in value
    ):
        raise InputError(f"{where}: '{key}' must be a list of [name, value] pairs")
    return [(str(k), str(v)) for k, v in value]


def from_flow_event(data: dict[str, Any], index: int) -> HttpExchange:
    """Build an exchange from the ``data`` of a ``flow.http`` event (see harness.events)."""
    where = f"flow event {data.get('id', index)!s}"
    if not isinstance(data, dict):
        raise InputError(f"flow event #{index}: expected a JSON object, got {type(data).__name__}")
    for key in ("method", "url"):
        if not isinstance(data.get(key), str):
            raise InputError(f"{where}: missing string field '{key}'; is this a flow.http event?")
    url: str = data["url"]
    host = data.get("host") or urlsplit(url).hostname or ""
    messages: list[bytes] = []
    for i, message in enumerate(data.get("websocket_messages") or []):
        if not isinstance(message, dict):
            raise InputError(f"{where}: websocket_messages[{i}] must be an object")
        if message.get("from_client", True):
            messages.append(_b64(message, "content_b64", f"{where} websocket_messages[{i}]"))
    t = data.get("t_request")
    return HttpExchange(
        index=index,
        method=data["method"],
        url=url,
        host=str(host),
        request_headers=_pairs(data.get("request_headers"), "request_headers", where),
        request_body=_b64(data, "request_body_b64", where),
        websocket_messages=messages,
        flow_id=str(data["id"]) if data.get("id") is not None else None,
        t=float(t) if isinstance(t, int | float) else None,
    )


def read_exchanges(path: str | Path) -> list[HttpExchange]:
    """Read every request of a HAR 1.2 file or a ``mitmdump -w`` dump, told apart by content."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check the path") from exc
    start = head.lstrip()[:1]
    if start in (b"{", b"["):
        from harness.traffic.har import read_har

        return read_har(path)
    if start[:1].isdigit():
        from harness.traffic.flowdump import read_flow_dump

        return read_flow_dump(path)
    raise InputError(
        f"{path}: not a HAR file (JSON starting with '{{') nor a mitmproxy flow dump "
        "(written by `mitmdump -w`); export the capture in one of these formats"
    )
