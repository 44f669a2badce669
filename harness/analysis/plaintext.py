"""TLS plaintext the agent saw below the proxy (``net.plaintext`` events), as requests the
traffic matcher can search: what an app sends through a pinned or proxy-ignoring connection
never reaches mitmdump, but it passes through SSL_write."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import replace

from harness.events import FLOW_HTTP, Event
from harness.traffic.exchange import HttpExchange

NET_PLAINTEXT = "net.plaintext"
_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ")


def _split_http(raw: bytes) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    """(method, target, headers, body) when ``raw`` starts an HTTP/1.x request."""
    if not raw.startswith(_METHODS):
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])
                if k.strip()]
    return parts[0], parts[1], headers, body


def _key(method: str, host: str, path: str, body: bytes) -> tuple[str, str, str, str]:
    return method, host.lower(), path, hashlib.sha1(body).hexdigest()


def plaintext_exchanges(events: Iterable[Event]) -> list[tuple[Event, HttpExchange]]:
    """Outgoing plaintext as exchanges, each with an event whose data carries ``host`` and
    ``url`` (for findings). Requests the proxy also captured are left out: one send, once."""
    events = list(events)
    outgoing = [e for e in events
                if e.type == NET_PLAINTEXT and e.data.get("direction") == "out"]
    if not outgoing:
        return []  # the common case: nothing below TLS, no flow bodies to decode
    proxied = set()
    for event in events:
        if event.type == FLOW_HTTP:
            try:
                body = base64.b64decode(str(event.data.get("request_body_b64") or ""))
            except (binascii.Error, ValueError):
                body = b""
            proxied.add(_key(str(event.data.get("method", "")), str(event.data.get("host", "")),
                             str(event.data.get("path", "")), body))
    found: list[tuple[Event, HttpExchange]] = []
    for event in outgoing:
        try:
            raw = base64.b64decode(str(event.data.get("data_b64") or ""))
        except (binascii.Error, ValueError):
            continue
        peer = str(event.data.get("peer") or "")
        peer_host = peer.rsplit(":", 1)[0] if peer else "unknown"
        http = _split_http(raw)
        if http is not None:
            method, target, headers, body = http
            host = next((v for k, v in headers if k.lower() == "host"), peer_host)
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            if _key(method, host, target, body) in proxied:
                continue
            url = f"https://{host}{target}"
        else:
            method, headers, body, host = "", [], raw, peer_host
            url = f"tls://{peer or 'unknown'}"
        labelled = replace(event, data={**event.data, "host": host, "url": url,
                                        "id": f"plaintext-{event.seq}"})
        found.append((labelled, HttpExchange(index=-1, method=method, url=url, host=host,
                                             request_headers=headers, request_body=body,
                                             flow_id=f"plaintext-{event.seq}", t=event.t)))
    return found
