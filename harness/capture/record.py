"""One completed mitmproxy ``HTTPFlow`` as the JSON payload of a ``flow.http`` event.

Pure: no I/O, no ``ctx``. The addon builds the payload inside mitmdump and prints it; the
harness records it as it arrives. Bodies are kept as sent on the wire (``raw_content``, still
content-encoded), so analysis can decode gzip/deflate/brotli itself and nothing is lost to a
decoder we did not choose. ``flows.mitm`` keeps the full flow; the payload caps bodies.
"""

from __future__ import annotations

import base64
from typing import Any

from mitmproxy import http
from mitmproxy.connection import Address

from harness.capture.protocol import DEFAULT_BODY_CAP
from harness.events import FLOW_HTTP, Event


def format_address(address: Address | None) -> str:
    """``ip:port`` (``[ip]:port`` for IPv6); empty when the peer is unknown."""
    if not address:
        return ""
    host, port = address[0], address[1]
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _capped(body: bytes | None, cap: int) -> tuple[str, int, bool]:
    data = body or b""
    truncated = len(data) > cap
    return base64.b64encode(data[:cap]).decode("ascii"), len(data), truncated


def _headers(headers: http.Headers) -> list[list[str]]:
    return [[k, v] for k, v in headers.items(multi=True)]  # type: ignore[no-untyped-call]


def _websocket_messages(flow: http.HTTPFlow, cap: int) -> list[dict[str, Any]]:
    assert flow.websocket is not None
    messages: list[dict[str, Any]] = []
    for message in flow.websocket.messages:
        content_b64, _, truncated = _capped(message.content, cap)
        messages.append({
            "from_client": bool(message.from_client),
            "content_b64": content_b64,
            "t": float(message.timestamp),
            "truncated": truncated,
        })
    return messages


def flow_payload(flow: http.HTTPFlow, index: int, *,
                 body_cap: int = DEFAULT_BODY_CAP) -> dict[str, Any]:
    """The ``flow.http`` payload of ``flow``, the ``index``-th flow (0-based) of flows.mitm."""
    request, response = flow.request, flow.response
    body_b64, body_size, truncated = _capped(request.raw_content, body_cap)
    payload: dict[str, Any] = {
        "id": flow.id,
        "index": index,
        "method": request.method,
        "url": request.pretty_url,
        "scheme": request.scheme,
        "host": request.pretty_host,
        "port": request.port,
        "path": request.path,
        "http_version": request.http_version,
        "request_headers": _headers(request.headers),
        "request_body_b64": body_b64,
        "request_body_size": body_size,
        "request_body_truncated": truncated,
        "status": response.status_code if response is not None else None,
        "response_headers": _headers(response.headers) if response is not None else [],
        "response_body_size": (
            len(response.raw_content)
            if response is not None and response.raw_content is not None else None
        ),
        "t_request": float(request.timestamp_end or request.timestamp_start),
        "t_response": (
            float(response.timestamp_end or response.timestamp_start)
            if response is not None else None
        ),
        "error": flow.error.msg if flow.error is not None else None,
        "client": format_address(flow.client_conn.peername),
        "tls": bool(flow.client_conn.tls_established),
        "sni": flow.client_conn.sni,
    }
    if flow.websocket is not None:
        payload["websocket_messages"] = _websocket_messages(flow, body_cap)
    return payload


def flow_event(payload: dict[str, Any]) -> Event:
    """The timeline event of a flow payload: host time of the request, source ``proxy``."""
    return Event(type=FLOW_HTTP, t=float(payload["t_request"]), source="proxy", data=payload)
