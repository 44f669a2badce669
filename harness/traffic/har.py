"""HAR 1.2 files (browser dev tools, Charles, mitmproxy's HAR export) -> HttpExchange."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import InputError
from harness.traffic.exchange import HttpExchange


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: a HAR file must be UTF-8 text ({exc.reason} at byte "
                         f"{exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}{hint}; "
                         "a HAR file must be one complete JSON document") from exc


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _body(request: dict[str, Any], where: str) -> bytes:
    post = request.get("postData")
    if not isinstance(post, dict):
        return b""
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":  # not in HAR 1.2, but written by several tools
            try:
                return base64.b64decode(text, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise InputError(f"{where}.postData: encoding is base64 but text is not") from exc
        return text.encode("utf-8", "surrogatepass")
    params = post.get("params")
    if isinstance(params, list):  # HAR allows params instead of text for form posts
        from urllib.parse import urlencode

        return urlencode([(str(p.get("name", "")), str(p.get("value", ""))) for p in params
                          if isinstance(p, dict)]).encode()
    return b""


def _entry(entry: Any, index: int, path: Path) -> HttpExchange:
    where = f"{path}: log.entries[{index}]"
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise InputError(f"{where}: expected an object with request.url (HAR 1.2)")
    headers = [(str(h.get("name", "")), str(h.get("value", "")))
               for h in request.get("headers") or [] if isinstance(h, dict)]
    # Chrome's HAR export keeps WebSocket frames here; "send" frames left the device.
    messages = [str(m.get("data", "")).encode("utf-8", "surrogatepass")
                for m in entry.get("_webSocketMessages") or []
                if isinstance(m, dict) and m.get("type") == "send"]
    url = request["url"]
    return HttpExchange(
        index=index,
        method=str(request.get("method", "GET")),
        url=url,
        host=urlsplit(url).hostname or "",
        request_headers=headers,
        request_body=_body(request, where),
        websocket_messages=messages,
        flow_id=str(entry["_id"]) if entry.get("_id") is not None else None,
        t=_time(entry.get("startedDateTime")),
    )


def read_har(path: Path) -> list[HttpExchange]:
    """Every request in a HAR 1.2 file, in file order."""
    document = _load(path)
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path}: JSON but not HAR 1.2: expected {{\"log\": {{\"entries\": "
                         "[...]}}; export the capture as HAR or a mitmproxy dump")
    return [_entry(entry, i, path) for i, entry in enumerate(entries)]
