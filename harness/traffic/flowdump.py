"""mitmproxy flow dumps (``mitmdump -w``) -> HttpExchange. The one traffic module that imports
mitmproxy: reading its native format is mitmproxy's job (``mitmproxy.io.FlowReader``)."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import exceptions, http, io

from harness.errors import InputError
from harness.traffic.exchange import HttpExchange


def _exchange(flow: http.HTTPFlow, index: int) -> HttpExchange:
    request = flow.request
    messages: list[bytes] = []
    if flow.websocket is not None:
        messages = [m.content for m in flow.websocket.messages if m.from_client]
    return HttpExchange(
        index=index,
        method=request.method,
        url=request.url,
        host=request.pretty_host,
        request_headers=list(request.headers.items(multi=True)),  # type: ignore[no-untyped-call]
        request_body=request.raw_content or b"",
        websocket_messages=messages,
        flow_id=flow.id,
        t=request.timestamp_start,
    )


def read_flow_dump(path: Path) -> list[HttpExchange]:
    """HTTP flows of a dump; ``index`` counts every flow in the file (TCP/DNS ones included),
    so indices agree with mitmproxy's own view of the file."""
    exchanges: list[HttpExchange] = []
    index = -1
    try:
        with path.open("rb") as handle:
            for index, flow in enumerate(io.FlowReader(handle).stream()):
                if isinstance(flow, http.HTTPFlow):
                    exchanges.append(_exchange(flow, index))
    except exceptions.FlowReadException as exc:
        raise InputError(f"{path}: not a readable mitmproxy flow dump after flow #{index}: {exc}; "
                         "write it with `mitmdump -w FILE` or export HAR instead") from exc
    except (ValueError, TypeError, KeyError) as exc:  # a damaged tnetstring body
        raise InputError(f"{path}: damaged mitmproxy flow dump after flow #{index}: {exc}") from exc
    return exchanges
