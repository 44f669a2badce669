"""The contract between the addon (inside mitmdump) and the harness, free of mitmproxy imports
so the harness can check its input before mitmdump starts.

Stdout lines: ``CONSENTRY-READY <host>:<port>`` and ``CONSENTRY-FLOW <json>``.
``consentry_resolve`` entries: ``host[:port]=ip:port``, like ``curl --resolve``.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.events import Event

FLOW_PREFIX = "CONSENTRY-FLOW "
READY_PREFIX = "CONSENTRY-READY "
DEFAULT_BODY_CAP = 4 * 1024 * 1024
"""Bytes of a body copied into a flow line; the rest stays in ``flows.mitm`` only."""

CAPTURE_ERROR = "capture.error"


def capture_error_event(message: str, t: float) -> Event:
    """The timeline record of a capture failure (``on_error``); the run is then incomplete."""
    return Event(type=CAPTURE_ERROR, t=t, source="proxy", data={"message": message})


ResolveTable = dict[tuple[str, int | None], tuple[str, int]]
"""``(host, port or None for any port) -> (ip, port)`` of the stand-in server."""


def parse_resolve(entries: Sequence[str]) -> ResolveTable:
    """Parse ``["host[:port]=ip:port", ...]``; ``ValueError`` says which entry and why."""
    table: ResolveTable = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        ip, colon, target_port = target.rpartition(":")
        host, _, port = source.partition(":")
        if not (sep and colon and ip and host and target_port.isdigit()):
            raise ValueError(f"cannot use resolve entry {entry!r}: expected host[:port]=ip:port, "
                             "e.g. alog.umeng.com:443=127.0.0.1:8443")
        if port and not port.isdigit():
            raise ValueError(f"cannot use resolve entry {entry!r}: the port after {host!r} "
                             "must be a number")
        table[(host.lower(), int(port) if port else None)] = (ip.strip("[]"), int(target_port))
    return table


def lookup(table: ResolveTable, host: str, port: int) -> tuple[str, int] | None:
    """The stand-in address for ``host:port``; an exact port beats a port-less entry."""
    host = host.lower()
    return table.get((host, port)) or table.get((host, None))
